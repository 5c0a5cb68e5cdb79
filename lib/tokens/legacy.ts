import { createVerifier, type Algorithm } from 'fast-jwt'
import type { ForeignClaims, ResolvedLegacy } from '../config/issuers.js'
import { InvalidTokenError } from '../errors.js'
import { checkHeader, verifiedPayload } from './foreign-checks.js'

// What @fastify/jwt puts in a header: its signer sets alg and typ, and kid when configured.
const ALLOWED_HEADER = new Set(['alg', 'typ', 'kid'])

/**
 * Tokens of an earlier @fastify/jwt set-up, accepted as access tokens until `legacy.until` so that an app moves
 * to the plugin without logging everyone out. Signature (allowlisted algorithms only), `exp` and `nbf` when present;
 * `sub` names the user unless `mapUser` does.
 */
export function createLegacy (options: ResolvedLegacy, clockTolerance: number) {
  const toleranceMs = clockTolerance * 1000
  const verifier = createVerifier({
    key: options.key,
    algorithms: options.algorithms as Algorithm[],
    clockTolerance: toleranceMs,
    complete: true
  })
  const optionalSub = options.mapUser !== undefined

  return {
    /** The verified claims, or a 401 error (also from `until` on). */
    verify (token: string, header: Record<string, unknown>): ForeignClaims {
      if (Date.now() >= options.untilMs) {
        throw new InvalidTokenError('Tokens of the earlier set-up are no longer accepted')
      }
      checkHeader(header, ALLOWED_HEADER)
      return verifiedPayload(verifier, token, toleranceMs, optionalSub) as ForeignClaims
    }
  }
}

export type Legacy = ReturnType<typeof createLegacy>
