import type { FastifyInstance } from 'fastify'
import { proofsOf } from '../tokens/authentication.js'
import { carriedOptions } from '../tokens/issue-options.js'
import { csrfBinding, sendTokens, sessionMetadata, type RoutesContext } from './context.js'
import { checkCurrentPassword } from './current-password.js'
import {
  acceptedResponse, changeBody, errorResponses, forgotBody, resetBody, routeSchema, tokenPair
} from './schemas.js'

const FORGOT_ANSWER = { message: 'If the account exists, a message is on its way' }

/** POST /password/forgot and /password/reset (routes.passwordReset). */
async function resetRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const { captchas, passwordFlows, routeConfig } = context
  app.post<{ Body: { username: string, captchaId?: string, captcha?: string } }>('/password/forgot', {
    config: { ...routeConfig, public: true },
    schema: routeSchema({
      summary: 'Send a password reset token to the account\'s owner (the same answer whether it exists or not)',
      tags: ['auth'],
      body: forgotBody,
      response: { 202: acceptedResponse, ...errorResponses(400, 429, 503) }
    })
  }, async (request, reply) => {
    const { username, captchaId, captcha } = request.body
    await captchas?.check(captchaId, captcha)
    // The answer leaves before the lookup: its time says nothing of the account, nor does a mailer's failure.
    const metadata = sessionMetadata(request)
    setImmediate(() => {
      passwordFlows.requestReset(username, metadata).catch((error: unknown) => {
        request.log.error({ err: error }, 'fastify-jwt-auth: password reset request failed')
      })
    })
    return reply.code(202).send(FORGOT_ANSWER)
  })

  app.post<{ Body: { token: string, password: string } }>('/password/reset', {
    config: { ...routeConfig, public: true },
    schema: routeSchema({
      summary: 'Set a new password with a reset token; every session of the account ends',
      tags: ['auth'],
      body: resetBody,
      response: { 204: { type: 'null', description: 'Password changed' }, ...errorResponses(400, 429, 503) }
    })
  }, async (request, reply) => {
    await passwordFlows.reset(request.body.token, request.body.password, sessionMetadata(request))
    return reply.code(204).send()
  })
}

/** POST /password/change: the logged-in user, with the current password; every other session ends. */
async function changeRoute (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const { authenticate, passwordFlows, routeConfig } = context
  app.post<{ Body: { currentPassword: string, newPassword: string } }>('/password/change', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({
      summary: 'Change the password; this client gets a new token pair, every other session ends',
      tags: ['auth'],
      body: changeBody,
      response: { 200: tokenPair, ...errorResponses(400, 401, 403, 429, 503) }
    })
  }, async (request, reply) => {
    const { claims } = request.auth!
    await checkCurrentPassword(context, request, request.body.currentPassword, 'password.change.failure')
    const csrf = csrfBinding(context)
    const pair = await passwordFlows.change(claims.sub, request.body.newPassword,
      { keepFamilyId: claims.fam, metadata: sessionMetadata(request) },
      { csrfHash: csrf.hash, caller: claims, carried: carriedOptions(claims), proofs: proofsOf(claims) })
    return sendTokens(context, reply, pair!, csrf.token)
  })
}

export async function passwordRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  if (context.routes.passwordReset !== null) await resetRoutes(app, context)
  if (context.routes.passwordChange) await changeRoute(app, context)
}
