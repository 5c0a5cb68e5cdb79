import type { FastifyReply, FastifyRequest } from 'fastify'
import { readBearerToken } from './bearer.js'
import { challengeReply } from './challenge.js'
import { UserNotFoundError } from './errors.js'
import type { ResolvedOptions } from './options.js'
import type { Sessions } from './sessions.js'
import type { AuthenticateHook, AuthUser } from './types.js'

/**
 * The `authenticate` hook: bearer token, then verification and revocation
 * (sessions.verify), then the user. Auth failures leave with their RFC 6750
 * challenge; errors of the app's own findById pass through untouched.
 */
export function createAuthenticate (config: ResolvedOptions, sessions: Sessions): AuthenticateHook {
  const { realm, maxTokenLength } = config
  const hasUserLookup = config.users.findById !== undefined

  return async function authenticate (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    // Already done for this request (protectByDefault, then the route's own hook).
    if (request.auth !== null) return
    let token, claims
    try {
      token = readBearerToken(request, maxTokenLength)
      claims = await sessions.verify(token)
    } catch (error) {
      throw challengeReply(reply, error as Error, realm)
    }
    let user: AuthUser = claims as AuthUser
    if (hasUserLookup) {
      const found = await sessions.loadUser(claims.sub)
      if (found === null) throw challengeReply(reply, new UserNotFoundError(), realm)
      user = found
    }
    request.user = user
    request.auth = { token, claims }
  }
}
