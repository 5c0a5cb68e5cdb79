import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Emit } from '../audit/events.js'
import type { ResolvedOptions } from '../config/options.js'
import { ResetTokenInvalidError, TokenRevokedError, UserNotFoundError } from '../errors.js'
import type { LoginExtras, LoginSessions } from '../tokens/sessions.js'
import type { RevocableClaims, Revocation } from '../tokens/revocation.js'
import type {
  ChangePasswordOptions, IssuableUser, IssueOptions, PasswordHasher, SessionMetadata, TokenPair
} from '../types.js'
import type { CredentialCheck } from '../users/credentials.js'
import { checkPasswordLength, checkPasswordPolicy } from '../users/password-policy.js'
import type { UserLookup } from '../users/user-lookup.js'
import { fingerprint, type OneTimeTokens } from './one-time-tokens.js'
import { sendLink, type LinkMessage, type SendLimit, type SendTicket } from './send-limit.js'

export interface AccountDeps {
  config: ResolvedOptions
  passwords: PasswordHasher
  credentials: CredentialCheck
  tokens: OneTimeTokens
  sendLimit: SendLimit
  revocation: Revocation
  users: UserLookup
  sessions: LoginSessions
  emit: Emit
  log: FastifyBaseLogger
}

/** What the plugin's change route adds: the caller's token, whose session goes on with its claims. */
export interface ChangeExtras extends LoginExtras {
  caller?: RevocableClaims & { iat: number }
  carried?: IssueOptions
}

type Fields = Record<string, unknown>

/** The name the user logs in with, as the password policy knows it; its id when it has no username. */
export function loginNameOf (user: Fields, sub: string): string {
  return typeof user.username === 'string' ? user.username : `id:${sub}`
}

export function createPasswordFlows (deps: AccountDeps) {
  const { config, passwords, credentials, tokens, sendLimit, revocation, users, sessions, emit } = deps
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
   * read the old hash in between (stillCurrent catches the rest). Pending reset links die with the old hash.
   */
  async function replacePassword (sub: string, hash: string, onWriteFailure?: () => Promise<void>) {
    try {
      // A revocation the store could not make safe (a 503: no replica acknowledged it) changes nothing either.
      await revocation.revokeUser(sub)
      await config.users.updatePasswordHash!(sub, hash)
    } catch (error) {
      await onWriteFailure?.().catch(() => {})
      throw error
    }
    await revocation.revokeUser(sub)
    await users.invalidate(sub)
  }

  /** The session that goes on, if it is a live one of the user: checked before the change ends them all. */
  async function sessionToKeep (sub: string, familyId: string | undefined): Promise<string | undefined> {
    if (typeof familyId !== 'string') return undefined
    return (await sessions.list(sub)).some((session) => session.familyId === familyId) ? familyId : undefined
  }

  /**
   * Nothing ended the user's sessions while this change ran (a reset, revokeAll, another change): else it
   * would undo them. The caller's own token, when there is one, must still be good too.
   */
  async function checkNotOvertaken (sub: string, epochAtStart: string | undefined, caller?: RevocableClaims) {
    if (caller !== undefined && await revocation.check(caller)) throw new TokenRevokedError()
    if (await revocation.epochOf(sub) !== epochAtStart) throw new TokenRevokedError()
  }

  async function change (
    userId: string | number, newPassword: string, options: ChangePasswordOptions = {}, extras: ChangeExtras = {}
  ): Promise<TokenPair | undefined> {
    requireCallbacks('changePassword')
    const sub = String(userId)
    const epochAtStart = await revocation.epochOf(sub)
    const user = await users.fresh(sub) as Fields | null
    if (user === null) throw new UserNotFoundError()
    await checkPasswordPolicy(policy, newPassword, loginNameOf(user, sub))
    const kept = await sessionToKeep(sub, options.keepFamilyId)
    const hash = await passwords.hashPassword(newPassword)
    await checkNotOvertaken(sub, epochAtStart, extras.caller)
    await replacePassword(sub, hash)
    emit('password.change', { userId: sub, familyId: kept, ...options.metadata })
    if (options.keepFamilyId === undefined) return undefined
    // The session goes on under its family id (the revocation was by epoch) with its claims, or in a new one.
    const reservation = kept === undefined ? undefined : { fam: kept, jti: randomUUID() }
    // The session goes on with its proofs as they were (the route gives them); unknown here, it gets none.
    const { caller, carried, proofs = null, ...loginExtras } = extras
    // Its generations go on above the family's: a record of the new chain that a failover loses is not behind them.
    return await sessions.issue({ ...user, id: sub } as IssuableUser, { ...carried, metadata: options.metadata },
      { ...loginExtras, reservation, proofs, goesOn: reservation !== undefined })
  }

  /** Sends a reset token to the user of `login`, if there is one; says nothing either way. */
  async function requestReset (login: string, metadata: SessionMetadata = {}): Promise<void> {
    const reset = config.routes?.passwordReset
    if (reset == null) throw new TypeError('requestPasswordReset needs routes.passwordReset.send')
    const user = typeof login === 'string' ? await config.users.findByLogin!(login) as Fields | null : undefined
    if (user == null) {
      emit('password.reset.request', metadata)
      return
    }
    const userId = String(user.id)
    const message: LinkMessage =
      { purpose: 'reset', userId, user, state: user.passwordHash, route: reset, option: 'routes.passwordReset' }
    let ticket: SendTicket | null
    try {
      ticket = await sendLimit.reserve(message)
    } catch (error) {
      emit('password.reset.request', { userId, ...metadata, reason: 'store_unavailable' })
      throw error
    }
    emit('password.reset.request', { userId, ...metadata, ...(ticket === null ? { reason: 'limited' } : {}) })
    if (ticket !== null) await sendLink(ticket, message, deps)
  }

  /** Spends a reset token for a new password; every session of the user ends, on every instance. */
  async function reset (token: string, newPassword: string, metadata: SessionMetadata = {}): Promise<void> {
    requireCallbacks('resetPassword')
    checkPasswordLength(newPassword)
    const spent = await tokens.take('reset', token)
    // Issued for the password the user has now: a reset, a change, or another account under a reused id since
    // makes it stale.
    const user = spent === null ? null : await credentials.findWithHash(spent.sub)
    if (spent === null || user === null || fingerprint(user.passwordHash) !== spent.fingerprint) {
      emit('password.reset.failure', { userId: user === null ? undefined : spent?.sub, ...metadata })
      throw new ResetTokenInvalidError()
    }
    // Nothing changed yet: a refused password or a failed write leaves the link working.
    const restore = () => tokens.restore('reset', spent)
    try {
      await checkPasswordPolicy(policy, newPassword, loginNameOf(user, spent.sub))
    } catch (error) {
      await restore()
      throw error
    }
    await replacePassword(spent.sub, await passwords.hashPassword(newPassword), restore)
    emit('password.reset', { userId: spent.sub, ...metadata })
  }

  return { change, requestReset, reset }
}

export type PasswordFlows = ReturnType<typeof createPasswordFlows>
