import type { FastifyInstance } from 'fastify'
import { UsernameTakenError, WeakPasswordError } from '../errors.js'
import type { IssuableUser } from '../types.js'
import { csrfBinding, sendTokens, sessionMetadata, type RoutesContext } from './context.js'
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../config/routes.js'
import { errorResponses, registerBody, routeSchema, tokenPair } from './schemas.js'

async function checkPolicy ({ routes }: RoutesContext, password: string, username: string): Promise<void> {
  // Characters as people count them (code points), not UTF-16 units.
  const length = [...password].length
  if (length < MIN_PASSWORD_LENGTH) {
    throw new WeakPasswordError(`The password must have at least ${MIN_PASSWORD_LENGTH} characters`)
  }
  if (length > MAX_PASSWORD_LENGTH) {
    throw new WeakPasswordError(`The password must have at most ${MAX_PASSWORD_LENGTH} characters`)
  }
  const reason = await routes.passwordPolicy?.(password, { username })
  if (typeof reason === 'string' && reason.length > 0) throw new WeakPasswordError(reason)
}

export async function registerRoute (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const { users } = context.config
  if (users.create === undefined) return
  const create = users.create
  const declared = context.routes.profile

  app.post<{ Body: Record<string, unknown> & { username: string, password: string } }>('/register', {
    config: { ...context.routeConfig, public: true },
    schema: routeSchema({
      summary: 'Create an account and log in',
      tags: ['auth'],
      body: registerBody(context.routes.profile),
      response: { 201: tokenPair, ...errorResponses(400, 409, 429, 503) }
    })
  }, async (request, reply) => {
    const { username, password, captchaId, captcha } = request.body
    await context.captchas?.check(captchaId, captcha)
    await checkPolicy(context, password, username)
    if (await users.findByLogin!(username) != null) throw new UsernameTakenError()
    // Only the declared profile fields reach users.create (an app's own validator might let others through).
    const profile = Object.fromEntries(Object.entries(request.body).filter(([key]) => Object.hasOwn(declared, key)))
    const passwordHash = await context.api.hashPassword(password)
    // Room for the session first: a full store answers 503 before the user exists.
    const reservation = await context.sessions.reserve()
    let user: IssuableUser
    try {
      user = await create({ ...profile, username, passwordHash }) as IssuableUser
    } catch (error) {
      await reservation.release().catch(() => {})
      throw error
    }
    const csrf = csrfBinding(context)
    const pair = await context.sessions.issue(
      user,
      { metadata: sessionMetadata(request) },
      { reservation, csrfHash: csrf.hash }
    )
    return reply.code(201).send(sendTokens(context, reply, pair, csrf.token))
  })
}
