import type { ResolvedSendLimit } from '../account/send-limit.js'
import type { AuthUser } from '../types.js'
import { checkKeys, fail, isObject } from './check.js'
import { toSeconds, type Duration } from './duration.js'

/** What the app's mailer is given: the user (as findById or findByLogin returned it), the token and its lifetime. */
export interface AccountMessage {
  user: AuthUser
  /** The one-time token: put it in a link to your app's page; never log it. */
  token: string
  /** Seconds until the token expires. */
  expiresIn: number
}

/** Delivers a one-time token (the app's mailer). What it throws is logged; the client learns nothing of it. */
export type SendAccountMessage = (message: AccountMessage) => void | Promise<void>

/** At most `max` messages to one account within `window`; past it, none while a link already sent still works. */
export interface SendLimitOptions {
  max?: number
  window?: Duration
}

export interface PasswordResetOptions {
  send: SendAccountMessage
  /** How long a reset token works; default '30m'. */
  ttl?: Duration
  /** Reset messages to one account; default { max: 3, window: '1h' }, false for no limit. */
  perAccount?: false | SendLimitOptions
}

export interface EmailVerificationOptions {
  send: SendAccountMessage
  /** How long a verification token works; default '1d'. */
  ttl?: Duration
  /** Refuse the login (403, after a right password) of a user whose email is not verified; default false. */
  required?: boolean
  /** Verification messages to one account; default { max: 3, window: '1h' }, false for no limit. */
  perAccount?: false | SendLimitOptions
}

export interface ResolvedAccountRoutes {
  passwordReset: { send: SendAccountMessage, ttl: number, perAccount: ResolvedSendLimit | null } | null
  emailVerification: {
    send: SendAccountMessage, ttl: number, required: boolean, perAccount: ResolvedSendLimit | null
  } | null
  passwordChange: boolean
}

/** What the account flows need of `users`, by name. */
interface UserCallbacks { findById: boolean, updatePasswordHash: boolean, markEmailVerified: boolean }

function needs (option: string, users: UserCallbacks, names: Array<keyof UserCallbacks>): void {
  const missing = names.filter((name) => !users[name])
  if (missing.length > 0) fail(`${option} needs ${missing.map((name) => `users.${name}`).join(' and ')}`)
}

function resolveSender (option: unknown, path: string, keys: string[]): Record<string, unknown> {
  if (!isObject(option)) fail(`${path} must be an object such as { send: async ({ user, token }) => {...} }`)
  checkKeys(option, keys, path)
  if (typeof option.send !== 'function') fail(`${path}.send must be a function that delivers the token`)
  return option
}

function resolveSendLimit (option: unknown, path: string): ResolvedSendLimit | null {
  if (option === false) return null
  const limit = option ?? {}
  if (!isObject(limit)) fail(`${path} must be false or { max, window }`)
  checkKeys(limit, ['max', 'window'], path)
  const max = limit.max ?? 3
  if (!Number.isInteger(max) || (max as number) < 1) fail(`${path}.max must be a positive integer (got ${String(max)})`)
  return { max: max as number, window: toSeconds(limit.window ?? '1h', `${path}.window`) }
}

/** `routes.passwordReset`, `routes.emailVerification` and `routes.passwordChange`. */
export function resolveAccountRoutes (
  options: { passwordReset?: unknown, emailVerification?: unknown, passwordChange?: unknown },
  users: UserCallbacks
): ResolvedAccountRoutes {
  let passwordReset: ResolvedAccountRoutes['passwordReset'] = null
  if (options.passwordReset !== undefined && options.passwordReset !== false) {
    const reset = resolveSender(options.passwordReset, 'routes.passwordReset', ['send', 'ttl', 'perAccount'])
    needs('routes.passwordReset', users, ['findById', 'updatePasswordHash'])
    passwordReset = {
      send: reset.send as SendAccountMessage,
      ttl: toSeconds(reset.ttl ?? '30m', 'routes.passwordReset.ttl'),
      perAccount: resolveSendLimit(reset.perAccount, 'routes.passwordReset.perAccount')
    }
  }
  let emailVerification: ResolvedAccountRoutes['emailVerification'] = null
  if (options.emailVerification !== undefined && options.emailVerification !== false) {
    const path = 'routes.emailVerification'
    const verification = resolveSender(options.emailVerification, path, ['send', 'ttl', 'required', 'perAccount'])
    needs('routes.emailVerification', users, ['findById', 'markEmailVerified'])
    if (verification.required !== undefined && typeof verification.required !== 'boolean') {
      fail('routes.emailVerification.required must be a boolean')
    }
    emailVerification = {
      send: verification.send as SendAccountMessage,
      ttl: toSeconds(verification.ttl ?? '1d', 'routes.emailVerification.ttl'),
      required: verification.required === true,
      perAccount: resolveSendLimit(verification.perAccount, `${path}.perAccount`)
    }
  }
  const { passwordChange } = options
  if (passwordChange !== undefined && typeof passwordChange !== 'boolean') {
    fail('routes.passwordChange must be a boolean')
  }
  if (passwordChange === true) needs('routes.passwordChange', users, ['findById', 'updatePasswordHash'])
  // On by default wherever it can work.
  const canChange = users.findById && users.updatePasswordHash
  return { passwordReset, emailVerification, passwordChange: passwordChange ?? canChange }
}

/** The first per-account message limit configured, by its option path (it needs atomic counters). */
export function sendLimitOption (routes: Omit<ResolvedAccountRoutes, 'passwordChange'>): string | undefined {
  if (routes.passwordReset?.perAccount != null) return 'routes.passwordReset.perAccount'
  if (routes.emailVerification?.perAccount != null) return 'routes.emailVerification.perAccount'
  return undefined
}
