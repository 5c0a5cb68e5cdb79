import { createPublicKey } from 'node:crypto'
import { IssuerUnavailableError, InvalidTokenError } from '../errors.js'
import { fetchKeySet, type PublishedKey } from './jwks-fetch.js'

/** Verifies a token with one key of the issuer (made by the caller from the key's PEM). */
export type KeyVerifier<Result> = (token: string) => Result

export interface IssuerKeysOptions<Result> {
  jwksUri: URL
  cacheTtlMs: number
  cooldownMs: number
  timeoutMs: number
  /** Aborted when the app closes: a fetch in flight then ends at once. */
  signal: AbortSignal
  /** Throws when the key cannot take the algorithm. */
  verifierFor: (pem: string, algorithm: string) => KeyVerifier<Result>
}

type Failure = 'unknown' | 'unavailable'

/** The set holds no key under this kid for this algorithm. */
const NOT_PUBLISHED = Symbol('not published')
/** A verifier, or undefined: the issuer published a key under this kid that cannot verify this algorithm. */
type Lookup<Result> = KeyVerifier<Result> | undefined | typeof NOT_PUBLISHED

const failure = (kind: Failure, cause?: unknown): Error => kind === 'unknown'
  ? new InvalidTokenError('The token key is not in the issuer\'s key set')
  : new IssuerUnavailableError({ cause })

function usable<Result> (verify: KeyVerifier<Result> | undefined): KeyVerifier<Result> {
  if (verify === undefined) throw new InvalidTokenError('The issuer\'s key cannot verify this token algorithm')
  return verify
}

/**
 * The public keys of one trusted issuer, from its JWKS. Each fetch brings the whole set, which is used for
 * `cacheTtl`, then fetched again; while the issuer is unreachable the set goes on working (its tokens are still
 * checked in full). Fetches are bounded: one at a time per issuer, and after a fetch that did not bring the key
 * asked for (or failed), keys not known yet are refused for `cooldown` without a fetch. A flood of made-up `kid`s
 * thus costs at most one fetch per cooldown, and since any fetch learns every key, a key the issuer has just
 * started using is known at the latest one cooldown later, whoever's token caused the fetch.
 */
export function createIssuerKeys<Result> (options: IssuerKeysOptions<Result>) {
  const { jwksUri, cacheTtlMs, cooldownMs, timeoutMs, verifierFor } = options
  let published: readonly PublishedKey[] = []
  // Only for keys of the set (at most the set's size times the issuer's algorithms): a made-up kid never gets in.
  let verifiers = new Map<string, KeyVerifier<Result> | undefined>()
  let freshUntil = 0
  let blockedUntil = 0
  let blockedBy: Failure = 'unknown'
  let queue: Promise<unknown> = Promise.resolve()

  function verifierOfKey (key: PublishedKey, algorithm: string): KeyVerifier<Result> | undefined {
    try {
      if (key.use !== undefined && key.use !== 'sig') throw new Error('not a signing key')
      const pem = createPublicKey({ key, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string
      return verifierFor(pem, algorithm)
    } catch {
      return undefined
    }
  }

  function lookup (algorithm: string, kid: string): Lookup<Result> {
    const id = `${algorithm} ${kid}`
    if (verifiers.has(id)) return verifiers.get(id)
    // A key without `alg` may serve any algorithm its type can take (RFC 7517 section 4.4).
    const key = published.find((key) => key.kid === kid && (key.alg === undefined || key.alg === algorithm))
    if (key === undefined) return NOT_PUBLISHED
    const verify = verifierOfKey(key, algorithm)
    verifiers.set(id, verify)
    return verify
  }

  async function refresh (): Promise<void> {
    const keys = await fetchKeySet(jwksUri, timeoutMs, options.signal)
    published = keys
    verifiers = new Map()
    freshUntil = Date.now() + cacheTtlMs
  }

  // One fetch at a time: whoever waited finds the set the fetch before brought, or the cooldown it set.
  async function fetchInTurn (algorithm: string, kid: string): Promise<KeyVerifier<Result>> {
    const known = lookup(algorithm, kid)
    if (known !== NOT_PUBLISHED && Date.now() < freshUntil) return usable(known)
    if (known === NOT_PUBLISHED && Date.now() < blockedUntil) throw failure(blockedBy)
    try {
      await refresh()
    } catch (error) {
      blockedUntil = Date.now() + cooldownMs
      blockedBy = 'unavailable'
      if (known === NOT_PUBLISHED) throw failure('unavailable', error)
      // Unreachable: the set goes on working, and is asked for again after the cooldown.
      freshUntil = blockedUntil
      return usable(known)
    }
    const fetched = lookup(algorithm, kid)
    if (fetched !== NOT_PUBLISHED) return usable(fetched)
    // Made up, or no longer published (its tokens stop here): unknown kids wait for the cooldown.
    blockedUntil = Date.now() + cooldownMs
    blockedBy = 'unknown'
    throw failure('unknown')
  }

  return {
    /** The verifier of the token's key: at once when known and fresh, else after a (bounded) fetch. */
    verifierOf (algorithm: string, kid: string): KeyVerifier<Result> | Promise<KeyVerifier<Result>> {
      if (Date.now() < freshUntil) {
        const known = lookup(algorithm, kid)
        if (known !== NOT_PUBLISHED) return usable(known)
      }
      const turn = queue.then(async () => await fetchInTurn(algorithm, kid))
      queue = turn.catch(() => {})
      return turn
    }
  }
}

export type IssuerKeys<Result> = ReturnType<typeof createIssuerKeys<Result>>
