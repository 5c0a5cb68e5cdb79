import type { FastifyReply, FastifyRequest } from 'fastify'
import { checkBearerSyntax, readBearerToken } from './bearer.js'
import { challengeReply } from './challenge.js'
import { checkCsrf } from './cookies.js'
import { InvalidRequestError, UserNotFoundError } from '../errors.js'
import type { ResolvedOptions } from '../config/options.js'
import type { Sessions } from '../sessions.js'
import type { AuthenticateHook, AuthUser } from '../types.js'

/**
 * The `authenticate` hook: bearer token, then verification and revocation
 * (sessions.verify), then the user. Auth failures leave with their RFC 6750
 * challenge; errors of the app's own findById pass through untouched.
 */
export function createAuthenticate (config: ResolvedOptions, sessions: Sessions): AuthenticateHook {
  const { realm, maxTokenLength } = config
  const hasUserLookup = config.users.findById !== undefined
  const accessCookie = config.cookies?.accessToken === true ? config.cookies.names.access : undefined

  // With cookie transport: the cookie, or the header, never both (RFC 6750 section 2). Undefined: no cookie.
  function readCookieToken (request: FastifyRequest): string | undefined {
    const cookie = request.cookies[accessCookie!]
    if (cookie === undefined || cookie === '') return undefined
    if (request.headers.authorization !== undefined) throw new InvalidRequestError('Send the access token in the Authorization header or in the cookie, not both')
    if (cookie.length > maxTokenLength) throw new InvalidRequestError('The access token cookie is too long')
    return cookie
  }

  return async function authenticate (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    // Already done for this request (protectByDefault, then the route's own hook).
    if (request.auth !== null) return
    let token, claims
    try {
      const cookie = accessCookie === undefined ? undefined : readCookieToken(request)
      token = cookie ?? readBearerToken(request, maxTokenLength)
      // Awaited only when it is a promise: a local answer costs no microtask.
      const verified = sessions.verifyRequestToken(token, cookie === undefined ? checkBearerSyntax : undefined)
      claims = verified instanceof Promise ? await verified : verified
      // A cookie is sent by the browser on its own: state changes need the CSRF proof too.
      if (cookie !== undefined) checkCsrf(request, claims.csh)
    } catch (error) {
      throw challengeReply(reply, error as Error, realm)
    }
    let user: AuthUser = claims as AuthUser
    if (hasUserLookup) {
      const loaded = sessions.loadUser(claims.sub)
      const found = loaded instanceof Promise ? await loaded : loaded
      if (found === null) throw challengeReply(reply, new UserNotFoundError(), realm)
      user = found
    }
    request.user = user
    request.auth = { token, claims }
  }
}
