import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Emit } from '../audit/events.js'
import type { ResolvedOptions } from '../config/options.js'
import { ResetTokenInvalidError, UserNotFoundError } from '../errors.js'
import type { LoginExtras, LoginSessions } from '../tokens/sessions.js'
import type { Revocation } from '../tokens/revocation.js'
import type {
  AuthUser, ChangePasswordOptions, IssuableUser, PasswordHasher, SessionMetadata, TokenPair
} from '../types.js'
import { checkPasswordLength, checkPasswordPolicy } from '../users/password-policy.js'
import type { UserLookup } from '../users/user-lookup.js'
import { withoutSecrets } from '../users/without-secrets.js'
import type { OneTimeTokens } from './one-time-tokens.js'

export interface AccountDeps {
  config: ResolvedOptions
  passwords: PasswordHasher
  tokens: OneTimeTokens
  revocation: Revocation
  users: UserLookup
  sessions: LoginSessions
  emit: Emit
  log: FastifyBaseLogger
}

type Fields = Record<string, unknown>

/** The name the user logs in with, as the password policy and the lockout know it. */
export function loginNameOf (user: Fields, sub: string): string {
  return typeof user.username === 'string' ? user.username : `id:${sub}`
}

/** What the app is told: the token is spent or never was; the user's state is as stored. */
export function createPasswordFlows (deps: AccountDeps) {
  const { config, passwords, tokens, revocation, users, sessions, emit, log } = deps
  const { updatePasswordHash, findByLogin } = config.users
  const policy = config.routes?.passwordPolicy

  // Checked at the call: an app without these callbacks may never change passwords.
  function requireCallbacks (operation: string): void {
    const missing = (['findById', 'updatePasswordHash'] as const).filter((name) => config.users[name] === undefined)
    if (missing.length === 0) return
    throw new TypeError(`${operation} needs ${missing.map((name) => `users.${name}`).join(' and ')}`)
  }

  /**
   * Ends every session, stores the new hash, then ends them again: the first revocation holds even if the
   * hash cannot be stored (a failure never leaves the old sessions alive), the second catches a login that
   * read the old hash in between (stillCurrent catches the rest).
   */
  async function replacePassword (sub: string, password: string, onWriteFailure?: () => Promise<void>) {
    const hash = await passwords.hashPassword(password)
    await revocation.revokeUser(sub)
    try {
      await updatePasswordHash!(sub, hash)
    } catch (error) {
      await onWriteFailure?.().catch(() => {})
      throw error
    }
    await revocation.revokeUser(sub)
    await users.invalidate(sub)
    await tokens.cancelPending('reset', sub)
  }

  /** The session that goes on, if it is a live one of the user: checked before the change ends them all. */
  async function sessionToKeep (sub: string, familyId: string | undefined): Promise<string | undefined> {
    if (typeof familyId !== 'string') return undefined
    return (await sessions.list(sub)).some((session) => session.familyId === familyId) ? familyId : undefined
  }

  return {
    async change (
      userId: string | number, newPassword: string, options: ChangePasswordOptions = {}, extras: LoginExtras = {}
    ): Promise<TokenPair | undefined> {
      requireCallbacks('changePassword')
      const sub = String(userId)
      const user = await users.fresh(sub) as Fields | null
      if (user === null) throw new UserNotFoundError()
      await checkPasswordPolicy(policy, newPassword, loginNameOf(user, sub))
      const kept = await sessionToKeep(sub, options.keepFamilyId)
      await replacePassword(sub, newPassword)
      emit('password.change', { userId: sub, familyId: kept, ...options.metadata })
      if (options.keepFamilyId === undefined) return undefined
      // The session goes on under its family id (the revocation was by epoch), or in a new one if it had ended.
      const reservation = kept === undefined ? undefined : { fam: kept, jti: randomUUID() }
      return await sessions.issue({ ...user, id: sub } as IssuableUser, { metadata: options.metadata },
        { ...extras, reservation })
    },

    /** Sends a reset token to the user of `login`, if there is one; says nothing either way. */
    async requestReset (login: string, metadata: SessionMetadata = {}): Promise<void> {
      const reset = config.routes?.passwordReset
      if (reset == null) throw new TypeError('requestPasswordReset needs routes.passwordReset.send')
      const user = typeof login === 'string' ? await findByLogin!(login) as Fields | null | undefined : undefined
      const userId = user == null ? undefined : String(user.id)
      emit('password.reset.request', { userId, ...metadata })
      if (userId === undefined) return
      const token = await tokens.issue('reset', userId, reset.ttl)
      try {
        await reset.send({ user: withoutSecrets(user!) as AuthUser, token, expiresIn: reset.ttl })
      } catch (error) {
        log.error({ err: error, userId }, 'fastify-jwt-auth: routes.passwordReset.send failed')
      }
    },

    /** Spends a reset token for a new password; every session of the user ends, on every instance. */
    async reset (token: string, newPassword: string, metadata: SessionMetadata = {}): Promise<void> {
      requireCallbacks('resetPassword')
      checkPasswordLength(newPassword)
      const spent = await tokens.take('reset', token)
      if (spent === null) throw new ResetTokenInvalidError()
      // Nothing changed yet: a refused password or a failed write leaves the link working.
      const restore = () => tokens.restore('reset', spent)
      const user = await users.fresh(spent.sub) as Fields | null
      if (user === null) throw new ResetTokenInvalidError()
      try {
        await checkPasswordPolicy(policy, newPassword, loginNameOf(user, spent.sub))
      } catch (error) {
        await restore()
        throw error
      }
      await replacePassword(spent.sub, newPassword, restore)
      emit('password.reset', { userId: spent.sub, ...metadata })
    }
  }
}

export type PasswordFlows = ReturnType<typeof createPasswordFlows>
