import { randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { InvalidCredentialsError } from '../errors.js'
import type { JwtAuthUsers } from '../config/options.js'
import type { IssuableUser, PasswordHasher } from '../types.js'

type LoginUser = IssuableUser & { passwordHash?: unknown }

// Why a login failed, and whose, for the audit event only: the client gets one error for every reason.
const failures = new WeakMap<object, { reason: string, userId?: string }>()

/** Tags a login failure with its reason (and its user, when known) for the audit event. */
export function loginFailure<E extends object> (error: E, reason: string, userId?: string): E {
  failures.set(error, userId === undefined ? { reason } : { reason, userId })
  return error
}

/** What `loginFailure` tagged `error` with. */
export const failureOf = (error: unknown): { reason: string, userId?: string } | undefined =>
  typeof error === 'object' && error !== null ? failures.get(error) : undefined

/**
 * Checks a username and password, in two steps (the lockout counts the attempt
 * between them, under the account found). An unknown user and a wrong password
 * give the same error and take the same time: an unknown user's password is
 * checked against a dummy hash made with the same parameters.
 */
export function createCredentialCheck (
  users: JwtAuthUsers,
  passwords: PasswordHasher,
  log: FastifyBaseLogger,
  epochOf?: (userId: string) => Promise<string | undefined>
) {
  let dummyHash: Promise<string> | undefined
  const getDummyHash = (): Promise<string> => (dummyHash ??= passwords.hashPassword(randomBytes(32).toString('base64')))

  /**
   * Stores a stronger hash of the password that just logged in. Never over a password changed meanwhile (a
   * reset): the write says which hash it replaces (`previous`, for a conditional update), the user is read again
   * just before it, and a change of the user's epoch around it refuses the login. An upgrade that fails for any
   * other reason does not fail the login.
   */
  async function rehash (username: string, password: string, user: LoginUser & { passwordHash: string }) {
    const sub = String(user.id)
    const epoch = await epochOf?.(sub)
    try {
      const upgraded = await passwords.hashPassword(password)
      if (!await stillCurrent(username, user)) return user
      await users.updatePasswordHash!(sub, upgraded, { previous: user.passwordHash })
      if (await epochOf?.(sub) !== epoch) throw loginFailure(new InvalidCredentialsError(), 'wrong_password', sub)
      // The stored hash is now this one (stillCurrent compares with it).
      return { ...user, passwordHash: upgraded }
    } catch (error) {
      if (failureOf(error) !== undefined) throw error
      log.warn({ err: error }, 'fastify-jwt-auth: could not store the rehashed password')
      return user
    }
  }

  async function stillCurrent (username: string, verified: LoginUser): Promise<boolean> {
    const now = await users.findByLogin!(username) as LoginUser | null | undefined
    return now != null && String(now.id) === String(verified.id) && now.passwordHash === verified.passwordHash
  }

  return {
    /** Makes the dummy hash ahead of the first login, so that login is not slower. */
    prepare: getDummyHash,

    /** The user a login name resolves to, with its stored hash; null when it names no one. */
    async find (username: string): Promise<LoginUser | null> {
      const user = await users.findByLogin!(username) as LoginUser | null | undefined
      return user ?? null
    },

    /**
     * Checks the password of the user `find` gave for `username`; for no user (null), against the dummy hash, so
     * that an unknown name and a wrong password fail alike.
     */
    async verify (username: string, user: LoginUser | null, password: string): Promise<LoginUser> {
      const storedHash = typeof user?.passwordHash === 'string' ? user.passwordHash : undefined
      const matches = await passwords.verifyPassword(storedHash ?? await getDummyHash(), password)
      if (user === null || storedHash === undefined || !matches) {
        const reason = user === null ? 'unknown_user' : 'wrong_password'
        throw loginFailure(new InvalidCredentialsError(), reason, user === null ? undefined : String(user.id))
      }
      if (users.updatePasswordHash !== undefined && passwords.needsRehash(storedHash)) {
        return await rehash(username, password, user as LoginUser & { passwordHash: string })
      }
      return user
    },

    /**
     * The user with the stored hash, read past the cache: from findById, or, when findById leaves the hash out,
     * from findByLogin with the user's username (the same user).
     */
    async findWithHash (sub: string): Promise<(Record<string, unknown> & { passwordHash: string }) | null> {
      const user = await users.findById!(sub) as Record<string, unknown> | null | undefined
      if (user == null) return null
      if (typeof user.passwordHash === 'string') return user as Record<string, unknown> & { passwordHash: string }
      const byLogin = typeof user.username === 'string'
        ? await users.findByLogin!(user.username) as Record<string, unknown> | null | undefined
        : undefined
      if (byLogin != null && String(byLogin.id) === sub && typeof byLogin.passwordHash === 'string') {
        return { ...user, passwordHash: byLogin.passwordHash }
      }
      throw new Error('fastify-jwt-auth: users.findById must return passwordHash (or username) to change a password')
    },

    /** Whether the password matches the hash; as slow as a login whatever the answer. */
    matches: (hash: string, password: string): Promise<boolean> => passwords.verifyPassword(hash, password),

    /**
     * The password may have changed while this login checked the old one: read it again once the tokens
     * exist. The same: a change stored later raised the user's epoch above the tokens', which revokes them.
     * Changed: the caller revokes them.
     */
    stillCurrent
  }
}

export type CredentialCheck = ReturnType<typeof createCredentialCheck>
