import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ResolvedOptions } from '../config/options.js'
import { InvalidRequestError, TokenRevokedError, UserNotFoundError } from '../errors.js'
import type { Jwt } from '../tokens/jwt.js'
import type { Revocation } from '../tokens/revocation.js'
import type { AccessTokenClaims, AuthenticateHook, AuthUser } from '../types.js'
import type { UserLookup } from '../users/user-lookup.js'
import { checkBearerSyntax, readBearerToken } from './bearer.js'
import { challengeReply } from './challenge.js'
import { checkCsrf } from './cookies.js'

interface AuthenticateDeps {
  config: ResolvedOptions
  jwt: Jwt
  revocation: Revocation
  users: UserLookup
}

/**
 * The `authenticate` hook, as a pipeline: token (header or cookie) -> verify
 * (verify cache, or syntax, signature and claims) -> revocation (the store's
 * local copy, or the store) -> user (cache, or findById). When every step
 * answers locally nothing is awaited. Auth failures leave with their RFC 6750
 * challenge; errors of the app's own findById pass through untouched.
 */
export function createAuthenticate ({ config, jwt, revocation, users }: AuthenticateDeps): AuthenticateHook {
  const { realm, maxTokenLength } = config
  const accessCookie = config.cookies?.accessToken === true ? config.cookies.names.access : undefined

  // With cookie transport: the cookie, or the header, never both (RFC 6750 section 2). Undefined: no cookie.
  function readCookieToken (request: FastifyRequest): string | undefined {
    const cookie = request.cookies[accessCookie!]
    if (cookie === undefined || cookie === '') return undefined
    if (request.headers.authorization !== undefined) {
      throw new InvalidRequestError('Send the access token in the Authorization header or in the cookie, not both')
    }
    if (cookie.length > maxTokenLength) throw new InvalidRequestError('The access token cookie is too long')
    return cookie
  }

  return async function authenticate (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    // Already done for this request (protectByDefault, then the route's own hook).
    if (request.auth !== null) return
    let token: string
    let claims: AccessTokenClaims
    try {
      const cookie = accessCookie === undefined ? undefined : readCookieToken(request)
      token = cookie ?? readBearerToken(request, maxTokenLength)
      // The syntax scan runs on verify-cache misses only; a cookie is not a bearer header.
      claims = jwt.verifyAccess(token, cookie === undefined ? checkBearerSyntax : undefined)
      if (revocation.checkLocally(claims) ?? await revocation.check(claims)) throw new TokenRevokedError()
      // A cookie is sent by the browser on its own: state changes need the CSRF proof too.
      if (cookie !== undefined) checkCsrf(request, claims.csh)
    } catch (error) {
      throw challengeReply(reply, error as Error, realm)
    }
    let user = claims as AuthUser
    if (users.enabled) {
      const loaded = users.load(claims.sub)
      const found = loaded instanceof Promise ? await loaded : loaded
      if (found === null) throw challengeReply(reply, new UserNotFoundError(), realm)
      user = found
    }
    request.user = user
    request.auth = { token, claims }
  }
}
