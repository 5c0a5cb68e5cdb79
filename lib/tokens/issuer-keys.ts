import { createPublicKey } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { IssuerUnavailableError, InvalidTokenError } from '../errors.js'
import { fetchKeySet, type PublishedKey } from './jwks-fetch.js'
import { keyMisfit, type PublicKeyAlgorithm } from './key-fit.js'

/** Verifies a token with one key of the issuer (made by the caller from the key's PEM). */
export type KeyVerifier<Result> = (token: string) => Result

export interface IssuerKeysOptions<Result> {
  jwksUri: URL
  cacheTtlMs: number
  maxStaleMs: number
  cooldownMs: number
  timeoutMs: number
  /** Aborted when the app closes: a fetch in flight then ends at once. */
  signal: AbortSignal
  log: FastifyBaseLogger
  /** Throws when the key cannot take the algorithm. */
  verifierFor: (pem: string, algorithm: string) => KeyVerifier<Result>
}

type Failure = 'unknown' | 'unavailable'

/** The set holds no key under this kid for this algorithm. */
const NOT_PUBLISHED = Symbol('not published')
/** A verifier, or undefined: the issuer published keys under this kid, none of which can verify this algorithm. */
type Lookup<Result> = KeyVerifier<Result> | undefined | typeof NOT_PUBLISHED

const failure = (kind: Failure, cause?: unknown): Error => kind === 'unknown'
  ? new InvalidTokenError('The token key is not in the issuer\'s key set')
  : new IssuerUnavailableError({ cause })

function usable<Result> (verify: KeyVerifier<Result> | undefined): KeyVerifier<Result> {
  if (verify === undefined) throw new InvalidTokenError('The issuer\'s key cannot verify this token algorithm')
  return verify
}

/**
 * The public keys of one trusted issuer, from its JWKS. Each fetch brings the whole set, used for `cacheTtl`; once
 * stale, its keys go on answering at once while the set is fetched again behind them, and while the issuer is
 * unreachable, for `maxStale` more (tokens are still checked in full). One fetch at a time per issuer. After a fetch
 * that did not bring the key asked for (or failed), keys not known yet are refused for `cooldown` without a fetch:
 * a flood of made-up `kid`s costs at most one fetch per cooldown, and since any fetch learns every key, a key the
 * issuer has just started using is known one cooldown later at the latest, whoever's token caused the fetch.
 */
export function createIssuerKeys<Result> (options: IssuerKeysOptions<Result>) {
  const { jwksUri, cacheTtlMs, maxStaleMs, cooldownMs, timeoutMs, log, verifierFor } = options
  let published: readonly PublishedKey[] = []
  // Only for keys of the set (at most the set's size times the issuer's algorithms): a made-up kid never gets in.
  let verifiers = new Map<string, KeyVerifier<Result> | undefined>()
  // Which set: tokens verified with an earlier one are verified again.
  let generation = 0
  // Until then the set answers at once; fetched again (behind the requests) once it has passed.
  let freshUntil = 0
  // Past it, the set answers no more until a fetch succeeds.
  let usableUntil = 0
  let blockedUntil = 0
  let blockedBy: Failure = 'unknown'
  let fetching: Promise<void> | undefined
  let queue: Promise<unknown> = Promise.resolve()

  function verifierOfKey (key: PublishedKey, algorithm: string): KeyVerifier<Result> | undefined {
    if (key.use !== undefined && key.use !== 'sig') return undefined
    try {
      const publicKey = createPublicKey({ key, format: 'jwk' })
      if (keyMisfit(algorithm as PublicKeyAlgorithm, publicKey) !== undefined) return undefined
      return verifierFor(publicKey.export({ type: 'spki', format: 'pem' }) as string, algorithm)
    } catch {
      return undefined
    }
  }

  function lookup (algorithm: string, kid: string): Lookup<Result> {
    const id = `${algorithm} ${kid}`
    if (verifiers.has(id)) return verifiers.get(id)
    // A key without `alg` may serve any algorithm its type can take (RFC 7517 section 4.4); of several keys under
    // one kid (an encryption key beside the signing key, say), the first that fits.
    const named = published.filter((key) => key.kid === kid && (key.alg === undefined || key.alg === algorithm))
    if (named.length === 0) return NOT_PUBLISHED
    let verify: KeyVerifier<Result> | undefined
    for (const key of named) {
      verify = verifierOfKey(key, algorithm)
      if (verify !== undefined) break
    }
    verifiers.set(id, verify)
    return verify
  }

  // The one fetch in flight, shared by whoever needs it. A failure keeps the set working until the cooldown ends.
  function fetchSet (): Promise<void> {
    fetching ??= fetchKeySet(jwksUri, timeoutMs, options.signal).then((keys) => {
      published = keys
      verifiers = new Map()
      generation++
      freshUntil = Date.now() + cacheTtlMs
      usableUntil = freshUntil + maxStaleMs
    }, (error: unknown) => {
      blockedUntil = Date.now() + cooldownMs
      blockedBy = 'unavailable'
      freshUntil = Math.max(freshUntil, blockedUntil)
      log.warn({ err: error, jwksUri: jwksUri.href }, 'fastify-jwt-auth: a trusted issuer\'s JWKS could not be fetched')
      throw failure('unavailable', error)
    }).finally(() => { fetching = undefined })
    return fetching
  }

  // Keys not known, or known from a set past maxStale: one turn at a time, so that whoever waited finds the set the
  // turn before brought, or its cooldown.
  async function fetchInTurn (algorithm: string, kid: string): Promise<KeyVerifier<Result>> {
    const known = lookup(algorithm, kid)
    if (known === NOT_PUBLISHED) {
      if (Date.now() < blockedUntil) throw failure(blockedBy)
    } else {
      if (Date.now() < usableUntil) return usable(known)
      // A published key waits only for an unreachable issuer's cooldown, not for a made-up kid's.
      if (blockedBy === 'unavailable' && Date.now() < blockedUntil) throw failure(blockedBy)
    }
    await fetchSet()
    const fetched = lookup(algorithm, kid)
    if (fetched !== NOT_PUBLISHED) return usable(fetched)
    // Made up, or no longer published (its tokens stop here): unknown kids wait for the cooldown.
    blockedUntil = Date.now() + cooldownMs
    blockedBy = 'unknown'
    throw failure('unknown')
  }

  return {
    /** The verifier of the token's key: at once when known, else after a (bounded) fetch. */
    verifierOf (algorithm: string, kid: string): KeyVerifier<Result> | Promise<KeyVerifier<Result>> {
      const now = Date.now()
      if (now >= freshUntil && fetching === undefined && published.length > 0) {
        // Stale: fetched again behind this request, which its known key answers now.
        fetchSet().catch(() => {})
      }
      const known = lookup(algorithm, kid)
      if (known !== NOT_PUBLISHED && now < usableUntil) return usable(known)
      const turn = queue.then(async () => await fetchInTurn(algorithm, kid))
      queue = turn.catch(() => {})
      return turn
    },

    /** The set tokens are verified with now: a token verified with another is verified again. */
    get generation (): number {
      return generation
    },

    /** Until when (ms) a token verified now may be taken as verified without asking the set again. */
    get cacheableUntil (): number {
      return Math.min(freshUntil, usableUntil)
    }
  }
}

export type IssuerKeys<Result> = ReturnType<typeof createIssuerKeys<Result>>
