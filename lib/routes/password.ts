import type { FastifyInstance, FastifyRequest } from 'fastify'
import { loginNameOf } from '../account/passwords.js'
import { InvalidCredentialsError, UserNotFoundError } from '../errors.js'
import type { CredentialCheck } from '../users/credentials.js'
import { csrfBinding, sendTokens, sessionMetadata, type RoutesContext } from './context.js'
import {
  acceptedResponse, changeBody, errorResponses, forgotBody, resetBody, routeSchema, tokenPair
} from './schemas.js'

const FORGOT_ANSWER = { message: 'If the account exists, a message is on its way' }

/** POST /password/forgot and /password/reset (routes.passwordReset). */
async function resetRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const { captchas, passwordFlows, routeConfig } = context
  app.post<{ Body: { login: string, captchaId?: string, captcha?: string } }>('/password/forgot', {
    config: { ...routeConfig, public: true },
    schema: routeSchema({
      summary: 'Send a password reset token to the account\'s owner (the same answer whether it exists or not)',
      tags: ['auth'],
      body: forgotBody,
      response: { 202: acceptedResponse, ...errorResponses(400, 429, 503) }
    })
  }, async (request, reply) => {
    const { login, captchaId, captcha } = request.body
    await captchas?.check(captchaId, captcha)
    // The answer leaves before the lookup: its time says nothing of the account, nor does a mailer's failure.
    const metadata = sessionMetadata(request)
    setImmediate(() => {
      passwordFlows.requestReset(login, metadata).catch((error: unknown) => {
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

/** The current password, checked as a login is: counted by the lockout first. */
async function checkCurrentPassword (
  { lockout, emit }: RoutesContext, credentials: CredentialCheck, request: FastifyRequest, password: string
): Promise<Record<string, unknown>> {
  const sub = request.auth!.claims.sub
  const user = await credentials.findWithHash(sub)
  if (user === null) throw new UserNotFoundError()
  const name = loginNameOf(user, sub)
  const attempt = await lockout?.begin(name)
  if (!await credentials.matches(user.passwordHash, password)) {
    if (attempt?.lastChance === true) {
      await lockout!.failed(name)
      emit('lockout', { userId: sub, ...sessionMetadata(request) })
    }
    throw new InvalidCredentialsError()
  }
  await lockout?.succeeded(name)
  return user
}

/** POST /password/change: the logged-in user, with the current password; every other session ends. */
async function changeRoute (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const { authenticate, credentials, passwordFlows, routeConfig } = context
  app.post<{ Body: { currentPassword: string, newPassword: string } }>('/password/change', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({
      summary: 'Change the password; this client gets a new token pair, every other session ends',
      tags: ['auth'],
      body: changeBody,
      response: { 200: tokenPair, ...errorResponses(400, 401, 403, 429, 503) }
    })
  }, async (request: FastifyRequest<{ Body: { currentPassword: string, newPassword: string } }>, reply) => {
    const { sub, fam } = request.auth!.claims
    await checkCurrentPassword(context, credentials, request, request.body.currentPassword)
    const csrf = csrfBinding(context)
    const pair = await passwordFlows.change(sub, request.body.newPassword,
      { keepFamilyId: fam, metadata: sessionMetadata(request) }, { csrfHash: csrf.hash })
    return sendTokens(context, reply, pair!, csrf.token)
  })
}

export async function passwordRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  if (context.routes.passwordReset !== null) await resetRoutes(app, context)
  if (context.routes.passwordChange) await changeRoute(app, context)
}
