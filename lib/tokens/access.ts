import { TokenRevokedError } from '../errors.js'
import type { AccessTokenClaims } from '../types.js'
import type { Jwt } from './jwt.js'
import type { Revocation } from './revocation.js'

/** `app.jwtAuth.verify`: an access token's signature and claims, then revocation (the checks authenticate makes). */
export function createAccessVerifier (jwt: Jwt, revocation: Revocation) {
  return async function verify (token: string): Promise<AccessTokenClaims> {
    const claims = jwt.verifyAccess(token)
    if (revocation.checkLocally(claims) ?? await revocation.check(claims)) throw new TokenRevokedError()
    return claims
  }
}
