import formbody from '@fastify/formbody'
import type { FastifyInstance } from 'fastify'
import type { FastifyRequest } from 'fastify'
import {
  AccountLockedError, EmailNotVerifiedError, InvalidCaptchaError, InvalidCredentialsError, MfaRequiredError
} from '../errors.js'
import { passwordProof } from '../tokens/authentication.js'
import { familyOf } from '../tokens/pairs.js'
import type { LoginExtras } from '../tokens/sessions.js'
import type { IssuableUser, MfaChallenge, SessionMetadata, TokenPair } from '../types.js'
import { failureOf, loginFailure } from '../users/credentials.js'
import { csrfBinding, noStore, sendTokens, sessionMetadata, type RoutesContext } from './context.js'
import { errorResponses, loginBody, loginResponse, routeSchema, swaggerLoginBody } from './schemas.js'

interface LoginBody { username: string, password: string, captchaId?: string, captcha?: string }

/** Why a login attempt failed (and whose, when known), for the audit event: the client's answer does not say. */
function failureFields (error: unknown): { reason?: string, userId?: string } {
  if (error instanceof InvalidCaptchaError) return { reason: 'captcha' }
  if (error instanceof AccountLockedError) return { reason: 'locked' }
  return failureOf(error) ?? {}
}

/**
 * The name is resolved first, then the lockout counts the attempt, under the name and the account it names; only
 * then is the password checked.
 */
async function checkPassword (context: RoutesContext, username: string, password: string, metadata: SessionMetadata) {
  const { lockout, credentials } = context
  const found = await credentials.find(username)
  const subject = found === null ? { login: username } : { login: username, userId: String(found.id) }
  const attempt = await lockout?.begin(subject)
  let user: IssuableUser & Record<string, unknown>
  try {
    user = await credentials.verify(username, found, password) as IssuableUser & Record<string, unknown>
  } catch (error) {
    // The failure was counted before the check; the last allowed one also locks the name and the account.
    if (error instanceof InvalidCredentialsError && attempt?.lastChance === true) {
      await lockout!.failed(subject)
      context.emit('lockout', metadata)
    }
    throw error
  }
  await lockout?.succeeded(subject)
  return user
}

/** The password changed while it was checked: the old one no longer logs in. */
const changedMeanwhile = (user: IssuableUser) =>
  loginFailure(new InvalidCredentialsError(), 'wrong_password', String(user.id))

/**
 * After the right password: a required email verification (a new message goes out), then the second step's
 * challenge for a user with a second factor, else the tokens.
 */
async function logIn (
  context: RoutesContext, { username, password }: LoginBody, metadata: SessionMetadata, extras: LoginExtras
): Promise<TokenPair | MfaChallenge> {
  const user = await checkPassword(context, username, password, metadata)
  if (context.routes.emailVerification?.required === true && user.emailVerified !== true) {
    await context.emailVerification.request(user.id, user)
    throw loginFailure(new EmailNotVerifiedError(), 'email_not_verified', String(user.id))
  }
  // The attempt holds the user's epoch: a change landing after the check below raises it, which ends the attempt.
  const challenge = await context.mfa?.secondStep.begin(user, metadata)
  if (challenge != null) {
    if (!await context.credentials.stillCurrent(username, user)) throw changedMeanwhile(user)
    return challenge
  }
  const mfaSetup = await context.mfa?.needsSetup(user)
  const pair = await context.sessions.issue(user, { metadata }, { ...extras, proofs: passwordProof(), mfaSetup })
  if (!await context.credentials.stillCurrent(username, user)) {
    await context.sessions.revoke(pair.refreshToken)
    throw changedMeanwhile(user)
  }
  context.emit('login.success', { userId: String(user.id), familyId: familyOf(pair), ...metadata })
  return pair
}

/** A login with its audit event on failure; the captcha is spent first, before any password work. */
async function attemptLogin (
  context: RoutesContext, body: LoginBody, request: FastifyRequest, extras: LoginExtras, captcha: boolean
): Promise<TokenPair | MfaChallenge> {
  const metadata = sessionMetadata(request)
  try {
    if (captcha) await context.captchas?.check(body.captchaId, body.captcha)
    return await logIn(context, body, metadata, extras)
  } catch (error) {
    context.emit('login.failure', { ...failureFields(error), ...metadata })
    throw error
  }
}

export async function loginRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const { routeConfig } = context

  app.post<{ Body: LoginBody }>('/login', {
    config: { ...routeConfig, public: true },
    schema: routeSchema({
      summary: 'Log in with a username and password (and the captcha when it is on)',
      tags: ['auth'],
      body: loginBody,
      response: { 200: loginResponse, ...errorResponses(400, 401, 403, 429, 503) }
    })
  }, async (request, reply) => {
    const csrf = csrfBinding(context)
    const result = await attemptLogin(context, request.body, request, { csrfHash: csrf.hash }, true)
    if ('mfaToken' in result) {
      noStore(reply)
      return { mfa_required: true, mfa_token: result.mfaToken, methods: result.methods }
    }
    return sendTokens(context, reply, result, csrf.token)
  })

  if (!context.routes.swaggerLogin) return

  // OAuth2 password flow for Swagger UI's Authorize button: form-encoded, no captcha. Development only.
  await app.register(async (swaggerLogin) => {
    await swaggerLogin.register(formbody, { bodyLimit: 16 * 1024 })
    swaggerLogin.post<{ Body: LoginBody }>('/swagger-login', {
      config: { ...routeConfig, public: true },
      schema: routeSchema({
        summary: 'OAuth2 password flow for Swagger UI (development only)',
        tags: ['auth'],
        consumes: ['application/x-www-form-urlencoded'],
        body: swaggerLoginBody,
        response: {
          200: {
            type: 'object',
            properties: {
              access_token: { type: 'string' },
              token_type: { type: 'string' },
              expires_in: { type: 'integer' }
            }
          },
          ...errorResponses(400, 401, 429, 503)
        }
      })
    }, async (request, reply) => {
      // No captcha: Swagger UI's form has no field for it (development only).
      const pair = await attemptLogin(context, request.body, request, {}, false)
      // Swagger UI's form has no second step.
      if ('mfaToken' in pair) throw new MfaRequiredError()
      noStore(reply)
      return { access_token: pair.accessToken, token_type: pair.tokenType, expires_in: pair.expiresIn }
    })
  })
}
