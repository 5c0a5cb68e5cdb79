import type { FastifyInstance } from 'fastify'
import { UsernameTakenError } from '../errors.js'
import { checkNewUsername, foldLogin } from '../users/login-name.js'
import { checkPasswordPolicy } from '../users/password-policy.js'
import type { JwtAuthUsers } from '../config/options.js'
import type { IssuableUser } from '../types.js'
import { passwordProof } from '../tokens/authentication.js'
import { csrfBinding, sendTokens, sessionMetadata, type RoutesContext } from './context.js'
import { errorResponses, registerBody, routeSchema, tokenPair, verificationPending } from './schemas.js'

/**
 * users.create refused the name (its unique index on the folded name): UsernameTakenError, or an error with its
 * code (from another copy of the package, or an adapter's own class).
 */
const isTaken = (error: unknown): boolean =>
  (error as { code?: unknown } | null | undefined)?.code === 'FST_JWT_AUTH_USERNAME_TAKEN'

/**
 * Whether a lookup finds the name, as typed or folded. Only a fast answer (no argon2, no reservation): the
 * guarantee is users.create's unique index on the folded name, which two registrations at once cannot pass.
 * The folded lookup finds `alice` for `Alice` even where findByLogin matches exactly.
 */
async function isKnown (users: JwtAuthUsers, username: string): Promise<boolean> {
  const folded = foldLogin(username)
  return await users.findByLogin!(username) != null || (folded !== username && await users.findByLogin!(folded) != null)
}

export async function registerRoute (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const { users } = context.config
  if (users.create === undefined) return
  const create = users.create
  const declared = context.routes.profile
  const verification = context.routes.emailVerification

  app.post<{ Body: Record<string, unknown> & { username: string, password: string } }>('/register', {
    config: { ...context.routeConfig, public: true },
    schema: routeSchema({
      summary: 'Create an account and log in',
      tags: ['auth'],
      body: registerBody(context.routes.profile),
      response: {
        201: verification?.required === true ? verificationPending : tokenPair,
        ...errorResponses(400, 409, 429, 503)
      }
    })
  }, async (request, reply) => {
    const { username, password, captchaId, captcha } = request.body
    await context.captchas?.check(captchaId, captcha)
    checkNewUsername(username)
    await checkPasswordPolicy(context.routes.passwordPolicy, password, username)
    if (await isKnown(users, username)) throw new UsernameTakenError()
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
      // Another registration of the name (or of a look-alike) got there first: the documented 409.
      throw isTaken(error) ? new UsernameTakenError({ cause: error }) : error
    }
    const metadata = sessionMetadata(request)
    context.emit('register', { userId: String(user.id), ...metadata })
    if (verification !== null) await context.emailVerification.request(user.id, user)
    if (verification?.required === true) {
      // No session before the address is proved: the login after the verification starts one.
      await reservation.release()
      return reply.code(201).send({ emailVerificationRequired: true })
    }
    const csrf = csrfBinding(context)
    const mfaSetup = await context.mfa?.needsSetup(user)
    const pair = await context.sessions.issue(
      user,
      { metadata },
      { reservation, csrfHash: csrf.hash, proofs: passwordProof(), mfaSetup }
    )
    return reply.code(201).send(sendTokens(context, reply, pair, csrf.token))
  })
}
