import { createVerifier, type Algorithm } from 'fast-jwt'
import type { FastifyBaseLogger } from 'fastify'
import type { ResolvedTrustedIssuer, TrustedIssuerClaims } from '../config/issuers.js'
import { InvalidTokenError } from '../errors.js'
import { checkHeader, verifiedPayload } from './foreign-checks.js'
import { createIssuerKeys, type KeyVerifier } from './issuer-keys.js'

// What an identity provider may put in a token header: x5t thumbprints are names (never fetched); parameters that
// carry or point at a key (jwk, jku, x5u, x5c) are refused, as is crit (RFC 8725 section 3.1).
const ALLOWED_HEADER = new Set(['alg', 'typ', 'kid', 'x5t', 'x5t#S256'])
// RFC 9068 section 4: an access token of another issuer has all of these.
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat']
const SAFE_KID = /^[\x21-\x7E]{1,256}$/

type Decoded = { payload: Record<string, unknown> }

/**
 * Access tokens of one trusted issuer (resource-server mode): signed by one of the keys of its JWKS with an
 * allowlisted algorithm, `iss`, `aud`, `exp`, `nbf` and, when configured, `typ` checked (RFC 8725, RFC 9068).
 */
export function createTrustedIssuer (
  options: ResolvedTrustedIssuer,
  clockTolerance: number,
  { signal, log }: { signal: AbortSignal, log: FastifyBaseLogger }
) {
  const toleranceMs = clockTolerance * 1000
  const verifierFor = (pem: string, algorithm: string): KeyVerifier<Decoded> => createVerifier({
    key: pem,
    algorithms: [algorithm as Algorithm],
    allowedIss: options.issuer,
    allowedAud: options.audience,
    requiredClaims: REQUIRED_CLAIMS,
    clockTolerance: toleranceMs,
    checkTyp: options.typ,
    complete: true
  })
  const keys = createIssuerKeys<Decoded>({ ...options, signal, log, verifierFor })
  const algorithms: readonly string[] = options.algorithms

  const finish = (verify: KeyVerifier<Decoded>, token: string): TrustedIssuerClaims =>
    verifiedPayload(verify, token, toleranceMs, false) as TrustedIssuerClaims

  return {
    /** The verified claims; a key not known yet is fetched first (bounded), so the answer may be a promise. */
    verify (token: string, header: Record<string, unknown>): TrustedIssuerClaims | Promise<TrustedIssuerClaims> {
      checkHeader(header, ALLOWED_HEADER)
      // Routed here for an algorithm of some trusted issuer; checked for this one before any fetch, so that a
      // token cannot make the plugin fetch for an algorithm it would refuse anyway.
      const alg = header.alg as string
      const { kid } = header
      if (!algorithms.includes(alg)) throw new InvalidTokenError('The token algorithm is not allowed')
      if (typeof kid !== 'string' || !SAFE_KID.test(kid)) throw new InvalidTokenError('The token names no known key')
      const verifier = keys.verifierOf(alg, kid)
      return verifier instanceof Promise ? verifier.then((verify) => finish(verify, token)) : finish(verifier, token)
    },

    /** The issuer's key set: which one tokens are verified with now, and how long such a token may be cached. */
    keys
  }
}

export type TrustedIssuer = ReturnType<typeof createTrustedIssuer>
