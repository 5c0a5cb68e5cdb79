import formbody from '@fastify/formbody'
import type { FastifyInstance } from 'fastify'
import { InvalidCredentialsError } from '../errors.js'
import type { IssuableUser } from '../types.js'
import { csrfBinding, noStore, sendTokens, sessionMetadata, type RoutesContext } from './context.js'
import { errorResponses, loginBody, routeSchema, swaggerLoginBody, tokenPair } from './schemas.js'

interface LoginBody { username: string, password: string, captchaId?: string, captcha?: string }

/** The lockout counts the attempt first; only then is the password checked. */
async function checkLogin (
  { lockout, credentials }: RoutesContext,
  username: string,
  password: string
): Promise<IssuableUser> {
  const attempt = await lockout?.begin(username)
  let user: IssuableUser
  try {
    user = await credentials.check(username, password)
  } catch (error) {
    // The failure was counted before the check; the last allowed one also locks the name.
    if (error instanceof InvalidCredentialsError && attempt?.lastChance === true) await lockout!.failed(username)
    throw error
  }
  await lockout?.succeeded(username)
  return user
}

export async function loginRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const { api, captchas, routeConfig } = context

  app.post<{ Body: LoginBody }>('/login', {
    config: { ...routeConfig, public: true },
    schema: routeSchema({
      summary: 'Log in with a username and password (and the captcha when it is on)',
      tags: ['auth'],
      body: loginBody,
      response: { 200: tokenPair, ...errorResponses(400, 401, 429, 503) }
    })
  }, async (request, reply) => {
    const { username, password, captchaId, captcha } = request.body
    // The captcha is spent first, whatever happens next, and before any password work.
    await captchas?.check(captchaId, captcha)
    const user = await checkLogin(context, username, password)
    const csrf = csrfBinding(context)
    const pair = await context.sessions.issue(user, { metadata: sessionMetadata(request) }, { csrfHash: csrf.hash })
    return sendTokens(context, reply, pair, csrf.token)
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
      const user = await checkLogin(context, request.body.username, request.body.password)
      const pair = await api.issue(user, { metadata: sessionMetadata(request) })
      noStore(reply)
      return { access_token: pair.accessToken, token_type: pair.tokenType, expires_in: pair.expiresIn }
    })
  })
}
