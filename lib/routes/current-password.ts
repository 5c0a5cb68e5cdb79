import type { FastifyRequest } from 'fastify'
import type { AuthEventType } from '../audit/events.js'
import { AccountLockedError, InvalidCredentialsError, UserNotFoundError } from '../errors.js'
import { sessionMetadata, type RoutesContext } from './context.js'

/**
 * The password of the authenticated user, checked as a login is (POST /password/change, POST /reauthenticate):
 * counted by the lockout first, under the account (shared with the logins whose name resolves to it). Not under its
 * username: a look-alike account's success would forgive it. A wrong or locked attempt emits `failureEvent`.
 * Resolves with the user, read past the cache.
 */
export async function checkCurrentPassword (
  context: RoutesContext, request: FastifyRequest, password: string, failureEvent: AuthEventType
): Promise<Record<string, unknown>> {
  const { lockout, emit, credentials } = context
  const sub = request.auth!.claims.sub
  const user = await credentials.findWithHash(sub)
  if (user === null) throw new UserNotFoundError()
  const account = { userId: sub }
  const failure = (reason: string) => emit(failureEvent, { userId: sub, reason, ...sessionMetadata(request) })
  let attempt
  try {
    attempt = await lockout?.begin(account)
  } catch (error) {
    if (error instanceof AccountLockedError) failure('locked')
    throw error
  }
  if (!await credentials.matches(user.passwordHash, password)) {
    failure('wrong_password')
    if (attempt?.lastChance === true) {
      await lockout!.failed(account)
      emit('lockout', { userId: sub, ...sessionMetadata(request) })
    }
    throw new InvalidCredentialsError()
  }
  await lockout?.succeeded(account)
  return user
}

/** Whether the user has a password: what findByLogin (required with routes) gives for their username. */
export async function hasPassword (context: RoutesContext, user: Record<string, unknown>): Promise<boolean> {
  const byLogin = await context.config.users.findByLogin!(String(user.username)) as
    Record<string, unknown> | null | undefined
  return byLogin != null && String(byLogin.id) === String(user.id) && typeof byLogin.passwordHash === 'string'
}
