import { createPublicKey } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { IssuerUnavailableError, InvalidTokenError } from '../errors.js'
import { fetchKeySet, type PublishedKey } from './jwks-fetch.js'
import { keyFits, type PublicKeyAlgorithm } from './key-fit.js'

/** Verifies a token with one key of the issuer (made by the caller from the key's PEM). */
export type KeyVerifier<Result> = (token: string) => Result

export interface IssuerKeysOptions<Result> {
  jwksUri: URL
  cacheTtlMs: number
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
 * unreachable (tokens are still checked in full). One fetch at a time per issuer. After a fetch that did not bring
 * the key asked for (or failed), keys not known yet are refused for `cooldown` without a fetch: a flood of made-up
 * `kid`s costs at most one fetch per cooldown, and since any fetch learns every key, a key the issuer has just
 * started using is known one cooldown later at the latest, whoever's token caused the fetch.
 */
export function createIssuerKeys<Result> (options: IssuerKeysOptions<Result>) {
  const { jwksUri, cacheTtlMs, cooldownMs, timeoutMs, log, verifierFor } = options
  let published: readonly PublishedKey[] = []
  // Only for keys of the set (at most the set's size times the issuer's algorithms): a made-up kid never gets in.
  let verifiers = new Map<string, KeyVerifier<Result> | undefined>()
  let freshUntil = 0
  let blockedUntil = 0
  let blockedBy: Failure = 'unknown'
  let fetching: Promise<void> | undefined
  let queue: Promise<unknown> = Promise.resolve()

  function verifierOfKey (key: PublishedKey, algorithm: string): KeyVerifier<Result> | undefined {
    if (key.use !== undefined && key.use !== 'sig') return undefined
    try {
      const publicKey = createPublicKey({ key, format: 'jwk' })
      if (!keyFits(algorithm as PublicKeyAlgorithm, publicKey)) return undefined
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
      freshUntil = Date.now() + cacheTtlMs
    }, (error: unknown) => {
      blockedUntil = Date.now() + cooldownMs
      blockedBy = 'unavailable'
      freshUntil = Math.max(freshUntil, blockedUntil)
      log.warn({ err: error, jwksUri: jwksUri.href }, 'fastify-jwt-auth: a trusted issuer\'s JWKS could not be fetched')
      throw failure('unavailable', error)
    }).finally(() => { fetching = undefined })
    return fetching
  }

  // Keys not known: one turn at a time, so that whoever waited finds the set the turn before brought, or its cooldown.
  async function fetchInTurn (algorithm: string, kid: string): Promise<KeyVerifier<Result>> {
    const known = lookup(algorithm, kid)
    if (known !== NOT_PUBLISHED) return usable(known)
    if (Date.now() < blockedUntil) throw failure(blockedBy)
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
      if (Date.now() >= freshUntil && fetching === undefined && published.length > 0) {
        // Stale: fetched again behind this request, which its known key answers now.
        fetchSet().catch(() => {})
      }
      const known = lookup(algorithm, kid)
      if (known !== NOT_PUBLISHED) return usable(known)
      const turn = queue.then(async () => await fetchInTurn(algorithm, kid))
      queue = turn.catch(() => {})
      return turn
    },

    /** Until when a token verified now may be taken as verified without asking again (ms). */
    get freshUntil (): number {
      return freshUntil
    }
  }
}

export type IssuerKeys<Result> = ReturnType<typeof createIssuerKeys<Result>>
