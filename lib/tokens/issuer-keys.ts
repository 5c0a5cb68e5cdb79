import { createPublicKey, type JsonWebKey } from 'node:crypto'
import buildGetJwks from 'get-jwks'
import { IssuerUnavailableError, InvalidTokenError } from '../errors.js'

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

interface Key<Result> {
  /** Undefined: the issuer published a key under this kid that cannot verify this algorithm. */
  verify: KeyVerifier<Result> | undefined
  freshUntil: number
}

type Failure = 'unknown' | 'unavailable'

// Keys kept per issuer: only keys the issuer published get in (a made-up kid never does).
const MAX_KEYS = 100

const failure = (kind: Failure, cause?: unknown): Error => kind === 'unknown'
  ? new InvalidTokenError('The token key is not in the issuer\'s key set', { cause })
  : new IssuerUnavailableError({ cause })

function timeoutAfter (ms: number): { promise: Promise<never>, clear: () => void } {
  let timer: NodeJS.Timeout | undefined
  const promise = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`the JWKS fetch took longer than ${ms} ms`)) }, ms)
  })
  return { promise, clear: () => { clearTimeout(timer) } }
}

/**
 * The public keys of one trusted issuer, fetched from its JWKS with get-jwks. A known key is used for `cacheTtl`,
 * then fetched again; while the issuer is unreachable it goes on working (its tokens are still checked in full).
 * Fetches are bounded: one at a time per issuer, and after a failed one, keys not known yet are refused for
 * `cooldown` without a fetch, so a flood of made-up `kid`s costs at most one fetch per cooldown.
 */
export function createIssuerKeys<Result> (options: IssuerKeysOptions<Result>) {
  const { jwksUri, cacheTtlMs, cooldownMs, timeoutMs, verifierFor } = options
  // get-jwks builds the URL from a domain and a path: the configured URL, split.
  const domain = `${jwksUri.origin}/`
  const jwks = buildGetJwks({
    max: MAX_KEYS,
    ttl: cacheTtlMs,
    jwksPath: `${jwksUri.pathname}${jwksUri.search}`,
    // get-jwks' own `timeout` option reaches fetch(), which ignores it: the timeout is ours, below.
    fetchOptions: { signal: options.signal }
  })
  const keys = new Map<string, Key<Result>>()
  let blockedUntil = 0
  let blockedBy: Failure = 'unknown'
  let queue: Promise<unknown> = Promise.resolve()

  function usable (key: Key<Result>): KeyVerifier<Result> {
    if (key.verify === undefined) throw new InvalidTokenError('The issuer\'s key cannot verify this token algorithm')
    return key.verify
  }

  async function fetchJwk (algorithm: string, kid: string): Promise<JsonWebKey> {
    const cacheKey = jwks.generateCacheKey(algorithm, kid, domain)
    // A real fetch each time: the policy (how long a key is used, what an outage or a removed key means) is ours.
    // get-jwks' stale copy would otherwise answer for a key the issuer has removed.
    jwks.cache.delete(cacheKey)
    jwks.staleCache.delete(cacheKey)
    const timeout = timeoutAfter(timeoutMs)
    let jwk: JsonWebKey
    try {
      jwk = await Promise.race([jwks.getJwk({ domain, alg: algorithm, kid }) as Promise<JsonWebKey>, timeout.promise])
    } catch (error) {
      timeout.clear()
      // A hung fetch must not stay in get-jwks' cache for the next caller to wait on.
      jwks.cache.delete(cacheKey)
      throw failure((error as { code?: unknown }).code === 'JWK_NOT_FOUND' ? 'unknown' : 'unavailable', error)
    }
    timeout.clear()
    return jwk
  }

  function toKey (jwk: JsonWebKey, algorithm: string): Key<Result> {
    let verify: KeyVerifier<Result> | undefined
    try {
      if (jwk.use !== undefined && jwk.use !== 'sig') throw new Error('not a signing key')
      const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string
      verify = verifierFor(pem, algorithm)
    } catch {
      verify = undefined
    }
    return { verify, freshUntil: Date.now() + cacheTtlMs }
  }

  function remember (id: string, key: Key<Result>): void {
    keys.delete(id)
    if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value!)
    keys.set(id, key)
  }

  // One fetch at a time: whoever waited finds the key the fetch before brought, or the cooldown it set.
  async function fetchInTurn (algorithm: string, kid: string, id: string): Promise<KeyVerifier<Result>> {
    const known = keys.get(id)
    if (known !== undefined && Date.now() < known.freshUntil) return usable(known)
    if (known === undefined && Date.now() < blockedUntil) throw failure(blockedBy)
    let jwk: JsonWebKey
    try {
      jwk = await fetchJwk(algorithm, kid)
    } catch (error) {
      blockedUntil = Date.now() + cooldownMs
      blockedBy = error instanceof IssuerUnavailableError ? 'unavailable' : 'unknown'
      if (known === undefined) throw error
      // The issuer no longer publishes the key: its tokens stop here.
      if (blockedBy === 'unknown') {
        keys.delete(id)
        throw error
      }
      // Unreachable: the key goes on working, and is asked for again after the cooldown.
      known.freshUntil = blockedUntil
      return usable(known)
    }
    const key = toKey(jwk, algorithm)
    remember(id, key)
    return usable(key)
  }

  return {
    /** The verifier of the token's key: at once when known and fresh, else after a (bounded) fetch. */
    verifierOf (algorithm: string, kid: string): KeyVerifier<Result> | Promise<KeyVerifier<Result>> {
      const id = `${algorithm} ${kid}`
      const known = keys.get(id)
      if (known !== undefined && Date.now() < known.freshUntil) return usable(known)
      const turn = queue.then(() => fetchInTurn(algorithm, kid, id))
      queue = turn.catch(() => {})
      return turn
    }
  }
}

export type IssuerKeys<Result> = ReturnType<typeof createIssuerKeys<Result>>
