import { InvalidTokenError } from '../errors.js'
import { toAuthError } from './jwt.js'

// Checks shared by the tokens of other issuers and legacy tokens, beyond what fast-jwt verifies.

/** A base64url JSON object of an unverified token (header or payload), or undefined when it is none. */
export function decodeSegment (segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString())
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? value as Record<string, unknown>
      : undefined
  } catch {
    return undefined
  }
}

/** Header parameters outside `allowed` (jwk, jku, x5u, x5c, crit, ...) make the token invalid: none is ever used. */
export function checkHeader (header: Record<string, unknown>, allowed: ReadonlySet<string>): void {
  for (const name of Object.keys(header)) {
    if (!allowed.has(name)) throw new InvalidTokenError('The token header has an unsupported parameter')
  }
}

/**
 * `sub` a non-empty string (required unless `optionalSub`), `iat` a number and not in the future: `revokeAll`
 * ends a user's tokens issued before it, so a token claiming a later birth would outlive it.
 */
function checkSubjectAndAge (
  payload: Record<string, unknown>, toleranceMs: number, optionalSub: boolean
): void {
  const { sub, iat } = payload
  if (!(typeof sub === 'string' && sub.length > 0) && !(optionalSub && sub === undefined)) {
    throw new InvalidTokenError('The token has a claim of the wrong type')
  }
  if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat))) {
    throw new InvalidTokenError('The token has a claim of the wrong type')
  }
  if (typeof iat === 'number' && iat * 1000 > Date.now() + toleranceMs) {
    throw new InvalidTokenError('The token was issued in the future')
  }
}

/**
 * The payload of a token fast-jwt's `verify` accepts, then checked for what fast-jwt does not check (`sub`, `iat`).
 * Every failure is one of our 401 errors, worded as for the plugin's own access tokens.
 */
export function verifiedPayload (
  verify: (token: string) => { payload: unknown }, token: string, toleranceMs: number, optionalSub: boolean
): Record<string, unknown> {
  let payload: Record<string, unknown>
  try {
    payload = verify(token).payload as Record<string, unknown>
  } catch (error) {
    throw toAuthError(error, 'access')
  }
  checkSubjectAndAge(payload, toleranceMs, optionalSub)
  return payload
}
