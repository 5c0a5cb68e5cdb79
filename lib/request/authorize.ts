import type { FastifyReply, FastifyRequest } from 'fastify'
import { challengeReply } from './challenge.js'
import { InsufficientScopeError } from '../errors.js'
import type { AuthenticateHook } from '../types.js'

// RFC 6749 scope-token characters: roles go into the challenge's scope attribute.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

// The user record's roles when it has a roles field: one that is not a list grants nothing (a bad column must
// not bring back the token's older roles); the token's roles when it has none.
function rolesOf (request: FastifyRequest): unknown {
  const userRoles = (request.user as { roles?: unknown } | null)?.roles
  if (userRoles === undefined) return request.auth?.claims.roles
  return Array.isArray(userRoles) ? userRoles : []
}

/** `app.authorize(...roles)`: 403 insufficient_scope unless the user holds one of `roles`. */
export function createAuthorize (realm: string, authenticate: AuthenticateHook) {
  return function authorize (...roles: string[]): AuthenticateHook {
    if (roles.length === 0 || !roles.every((role) => typeof role === 'string' && SCOPE_TOKEN.test(role))) {
      throw new TypeError('authorize: give one or more roles, each a string without spaces, quotes or backslashes')
    }
    const scope = roles.join(' ')
    return async function authorizeRoles (request: FastifyRequest, reply: FastifyReply): Promise<void> {
      // Safe on its own: a route guarded only by authorize still authenticates.
      if (request.auth === null) await authenticate(request, reply)
      const held = rolesOf(request)
      if (!Array.isArray(held) || !roles.some((role) => held.includes(role))) {
        throw challengeReply(reply, new InsufficientScopeError(), realm, scope)
      }
    }
  }
}
