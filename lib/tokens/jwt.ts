import { createSigner, createVerifier, TokenError, type Algorithm } from 'fast-jwt'
import { InvalidTokenError, TokenExpiredError, TokenNotActiveError, WrongTokenTypeError } from '../errors.js'
import type { ResolvedOptions, Signing } from '../config/options.js'
import type { AccessTokenClaims } from '../types.js'
import { createVerifyCache } from './verify-cache.js'

// Explicit typing (RFC 8725 section 3.11): access tokens use RFC 9068's media
// type, refresh tokens their own, so neither can stand in for the other.
export const ACCESS_TYP = 'at+jwt'
export const REFRESH_TYP = 'rt+jwt'

export type TokenType = 'access' | 'refresh'

/** Claims of a verified refresh token. */
export interface RefreshTokenClaims {
  sub: string
  jti: string
  fam: string
  iat: number
  exp: number
  ep?: string
  /** Hash of the session's CSRF token (cookie logins). */
  csh?: string
  /** The token's place in its family: 0 at login, one more at each rotation (absent from older tokens). */
  gen?: number
}

// We only ever verify tokens we signed, and we sign with these header
// parameters alone: anything else (jwk, jku, x5u, x5c, crit, ...) is refused.
const ALLOWED_HEADER = new Set(['alg', 'typ', 'kid'])

const INVALID_MESSAGES: Record<string, string> = {
  FAST_JWT_MALFORMED: 'The token is malformed',
  FAST_JWT_INVALID_PAYLOAD: 'The token is malformed',
  FAST_JWT_INVALID_ALGORITHM: 'The token algorithm is not allowed',
  FAST_JWT_INVALID_SIGNATURE: 'The token signature is invalid',
  FAST_JWT_MISSING_SIGNATURE: 'The token signature is missing',
  FAST_JWT_MISSING_REQUIRED_CLAIM: 'The token lacks a required claim',
  FAST_JWT_INVALID_CLAIM_TYPE: 'The token has a claim of the wrong type',
  FAST_JWT_INVALID_CLAIM_VALUE: 'The token was not issued for this service'
}

/** Turns whatever verification threw into one of our 401 errors: token input never causes a 5xx. */
export function toAuthError (error: unknown, expected: TokenType): Error {
  const code = String((error as { code?: unknown }).code)
  if (code === TokenError.codes.expired) return new TokenExpiredError({ cause: error })
  if (code === TokenError.codes.inactive) return new TokenNotActiveError({ cause: error })
  if (code === TokenError.codes.invalidType) {
    return new WrongTokenTypeError(expected === 'access' ? 'An access' : 'A refresh', { cause: error })
  }
  return new InvalidTokenError(INVALID_MESSAGES[code] ?? 'The token is invalid', { cause: error })
}

function isStringArray (value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string')
}

/** Shape checks fast-jwt does not make: header allowlist and the types of our own claims. */
function checkShape (header: Record<string, unknown>, payload: Record<string, unknown>): void {
  for (const name of Object.keys(header)) {
    if (!ALLOWED_HEADER.has(name)) throw new InvalidTokenError('The token header has an unsupported parameter')
  }
  if (typeof payload.sub !== 'string' || payload.sub.length === 0 ||
      typeof payload.jti !== 'string' || typeof payload.fam !== 'string' ||
      typeof payload.iat !== 'number' || typeof payload.exp !== 'number' ||
      (payload.ep !== undefined && typeof payload.ep !== 'string') ||
      (payload.csh !== undefined && typeof payload.csh !== 'string') ||
      (payload.roles !== undefined && !isStringArray(payload.roles))) {
    throw new InvalidTokenError('The token has a claim of the wrong type')
  }
}

const HEADER_CACHE_SIZE = 64

// The key id of a token, read before verification to pick the key (the
// verifier then checks the whole token, this header included).
function keyIdOf (token: string): unknown {
  const dot = token.indexOf('.')
  try {
    return (JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString()) as { kid?: unknown } | null)?.kid
  } catch {
    throw new InvalidTokenError('The token is malformed')
  }
}

/** A secret or key as signers and verifiers take it; `kid` undefined for an HMAC secret of tokens without one. */
interface TokenKey {
  kid: string | undefined
  algorithm: Algorithm
  /** Undefined on an asymmetric key kept only to verify. */
  signWith: Buffer | string | undefined
  verifyWith: Buffer | string
}

function tokenKeys (signing: Signing): TokenKey[] {
  return signing.kind === 'hmac'
    ? signing.secrets.map(({ kid, key, algorithm }) => ({ kid, algorithm, signWith: key, verifyWith: key }))
    : signing.keys.map(({ kid, algorithm, privatePem, publicPem }) =>
      ({ kid, algorithm, signWith: privatePem, verifyWith: publicPem }))
}

/**
 * Picks a token's verifiers by the `kid` of its header: a token verifies only with the secret or key it names, and
 * with that one's algorithm; a token without a kid only with the HMAC secret without one, if there is one.
 */
function keyLookup<V> (keys: TokenKey[], verifiersOf: (key: TokenKey) => V): (token: string) => V {
  // A lone secret without a kid (the common set-up) takes every token without reading its header.
  if (keys.length === 1 && keys[0]!.kid === undefined) {
    const verifiers = verifiersOf(keys[0]!)
    return () => verifiers
  }
  const byKid = new Map(keys.map((key) => [key.kid, verifiersOf(key)]))
  // Tokens of one key share one header segment: decoding it (base64 and JSON,
  // ~1 µs) once per distinct header is enough. A few entries, never evicted,
  // and only for headers naming a known key.
  const byHeader = new Map<string, V>()
  return (token) => {
    const header = token.slice(0, token.indexOf('.'))
    const known = byHeader.get(header)
    if (known !== undefined) return known
    const kid = keyIdOf(token)
    const verifiers = kid === undefined || typeof kid === 'string' ? byKid.get(kid) : undefined
    if (verifiers === undefined) throw new InvalidTokenError('The token key is unknown')
    if (byHeader.size < HEADER_CACHE_SIZE) byHeader.set(header, verifiers)
    return verifiers
  }
}

export function createJwt (config: ResolvedOptions) {
  const { signing, issuer, audience } = config
  const requiredClaims = ['sub', 'jti', 'fam', 'iat', 'exp']
  // fast-jwt only checks iss/aud when present, so a configured one is also required.
  if (issuer !== undefined) requiredClaims.push('iss')
  if (audience !== undefined) requiredClaims.push('aud')

  const keys = tokenKeys(signing)
  const signingKey = keys[0]!
  const signerOptions = {
    key: signingKey.signWith!,
    algorithm: signingKey.algorithm,
    kid: signingKey.kid,
    iss: issuer,
    aud: audience
  }
  const header = (typ: string) => ({ alg: signingKey.algorithm, typ })
  const signAccess = createSigner({ ...signerOptions, header: header(ACCESS_TYP), expiresIn: config.accessTtl * 1000 })
  const signRefresh = createSigner({
    ...signerOptions,
    header: header(REFRESH_TYP),
    expiresIn: config.refreshTtl * 1000
  })

  // Each key verifies only with its own algorithm.
  const verifierSet = (key: Buffer | string, algorithm: Algorithm) => {
    const options = {
      key,
      algorithms: [algorithm],
      allowedIss: issuer,
      allowedAud: audience,
      requiredClaims,
      clockTolerance: config.clockTolerance * 1000, // fast-jwt counts milliseconds
      complete: true as const
    }
    return {
      access: createVerifier({ ...options, checkTyp: ACCESS_TYP }),
      refresh: createVerifier({ ...options, checkTyp: REFRESH_TYP }),
      // Revocation accepts expired tokens of either type: logging out with a stale token still ends its family.
      any: createVerifier({ ...options, ignoreExpiration: true, ignoreNotBefore: true })
    }
  }
  type VerifierSet = ReturnType<typeof verifierSet>

  const verifiersFor = keyLookup(keys, ({ verifyWith, algorithm }) => verifierSet(verifyWith, algorithm))

  function decode (
    kind: keyof VerifierSet,
    token: string,
    expected: TokenType
  ): { header: Record<string, unknown>, payload: Record<string, unknown> } {
    // fast-jwt reports a non-string token as a wrong type; it is simply not a token.
    if (typeof token !== 'string') throw new InvalidTokenError('The token must be a string')
    const verifier = verifiersFor(token)[kind]
    let decoded
    try {
      decoded = verifier(token)
    } catch (error) {
      throw toAuthError(error, expected)
    }
    checkShape(decoded.header, decoded.payload)
    return decoded
  }

  // Access tokens come back on every request: a verified one is not verified again until it expires.
  const accessCache = createVerifyCache<AccessTokenClaims>(config.verifyCacheMax, config.clockTolerance * 1000)

  return {
    signAccess: (payload: Record<string, unknown>): string => signAccess(payload),
    signRefresh: (payload: Record<string, unknown>): string => signRefresh(payload),

    /** `checkSyntax` runs on a cache miss only (a hit is a string that passed it before). */
    verifyAccess (token: string, checkSyntax?: (token: string) => void): AccessTokenClaims {
      const cached = typeof token === 'string' ? accessCache.get(token) : undefined
      if (cached !== undefined) return cached
      checkSyntax?.(token)
      const claims = decode('access', token, 'access').payload as AccessTokenClaims
      accessCache.set(token, claims)
      return claims
    },

    verifyRefresh (token: string): RefreshTokenClaims {
      return decode('refresh', token, 'refresh').payload as unknown as RefreshTokenClaims
    },

    /** Signature and issuer checks only, for revoke(): returns the claims and which kind of token it is. */
    verifyAnyType (token: string): { claims: RefreshTokenClaims, type: TokenType } {
      const { header, payload } = decode('any', token, 'access')
      const typ = header.typ
      if (typ !== ACCESS_TYP && typ !== REFRESH_TYP) throw new InvalidTokenError('The token type is not recognised')
      return { claims: payload as unknown as RefreshTokenClaims, type: typ === ACCESS_TYP ? 'access' : 'refresh' }
    }
  }
}

export type Jwt = ReturnType<typeof createJwt>
