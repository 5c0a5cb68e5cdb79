import type { FastifyInstance, FastifyRequest } from 'fastify'
import { InvalidRequestError, UserNotFoundError } from '../errors.js'
import { nowInSeconds } from '../tokens/authentication.js'
import { createReauthentication } from '../tokens/reauthentication.js'
import type { IssuableUser } from '../types.js'
import { csrfBinding, sendTokens, sessionMetadata, type RoutesContext } from './context.js'
import { checkCurrentPassword } from './current-password.js'
import { errorResponses, reauthenticateBody, routeSchema, tokenPair } from './schemas.js'

interface ReauthenticateBody { password?: string, code?: string }

const status = (error: unknown): unknown => (error as { statusCode?: unknown } | null)?.statusCode

/**
 * The proofs of the body, checked in turn: the password (counted by the lockout, as a login), then the code (by the
 * second factor's verifier, which counts its own). Resolves with the user, read past the cache, and the methods.
 */
async function prove (
  context: RoutesContext, request: FastifyRequest<{ Body: ReauthenticateBody }>
): Promise<{ user: IssuableUser, amr: string[] }> {
  const { password, code } = request.body
  const verifier = context.verifiers.code
  // Before any work: no attempt is counted for a proof nobody can check.
  if (code !== undefined && verifier === undefined) {
    throw new InvalidRequestError('code is not accepted: no second factor is configured')
  }
  const sub = request.auth!.claims.sub
  const amr: string[] = []
  let user: unknown = null
  if (password !== undefined) {
    user = await checkCurrentPassword(context, request, password, 'reauthenticate.failure')
    amr.push('pwd')
  }
  if (code !== undefined) {
    const metadata = sessionMetadata(request)
    try {
      amr.push(...await verifier!.verify(sub, code, metadata))
    } catch (error) {
      // A refused code (4xx) is a failed attempt; a failing store (503) is not.
      const statusCode = status(error)
      if (typeof statusCode === 'number' && statusCode < 500) {
        const reason = statusCode === 429 ? 'locked' : 'wrong_code'
        context.emit('reauthenticate.failure', { userId: sub, reason, ...metadata })
      }
      throw error
    }
    user ??= await context.users.fresh(sub)
  }
  if (user === null) throw new UserNotFoundError()
  return { user: { ...user as IssuableUser, id: sub }, amr }
}

/** POST /reauthenticate: the logged-in user proves it again, for a new pair of its session with a fresh auth_time. */
export async function reauthenticateRoute (app: FastifyInstance, context: RoutesContext): Promise<void> {
  if (!context.routes.reauthenticate) return
  const { authenticate, routeConfig } = context
  const reauthenticate = createReauthentication(context.store, context.sessions, context.revocation)
  app.post<{ Body: ReauthenticateBody }>('/reauthenticate', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({
      summary: 'Prove again who you are (password or one-time code): a new token pair of this session, with a ' +
        'fresh auth_time, for routes that require a recent or stronger authentication',
      tags: ['auth'],
      body: reauthenticateBody,
      response: { 200: tokenPair, ...errorResponses(400, 401, 403, 429, 503) }
    })
  }, async (request, reply) => {
    const { user, amr } = await prove(context, request)
    const claims = request.auth!.claims
    const metadata = sessionMetadata(request)
    const csrf = csrfBinding(context)
    const proofs = { amr, authTime: nowInSeconds() }
    const pair = await reauthenticate(user, claims, proofs, { csrfHash: csrf.hash, metadata })
    context.emit('reauthenticate', { userId: claims.sub, familyId: claims.fam, ...metadata })
    return sendTokens(context, reply, pair, csrf.token)
  })
}
