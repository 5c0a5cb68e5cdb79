import { channel } from 'node:diagnostics_channel'
import type { FastifyBaseLogger } from 'fastify'

/** What happened: one type per security-relevant step of an account or a session. */
export type AuthEventType =
  | 'login.success' | 'login.failure' | 'lockout'
  | 'refresh' | 'refresh.reuse' | 'refresh.unknown' | 'logout' | 'revoke.all'
  | 'register'
  | 'password.change' | 'password.change.failure' | 'password.reset.request' | 'password.reset'
  | 'password.reset.failure' | 'email.verify' | 'email.verify.failure'
  | 'reauthenticate' | 'reauthenticate.failure'
  | 'mfa.enable' | 'mfa.disable' | 'mfa.success' | 'mfa.failure' | 'mfa.recovery_code.used'
  | 'mfa.recovery_codes.regenerate'
  | 'oauth.login' | 'oauth.link' | 'oauth.unlink' | 'oauth.failure'
  | 'passkey.register' | 'passkey.remove' | 'passkey.login.success' | 'passkey.login.failure'

/** Why a login failed: for the server's eyes only (the client gets one answer for all). */
export type LoginFailureReason = 'unknown_user' | 'wrong_password' | 'captcha' | 'locked' | 'email_not_verified'

/** An audit event. Never a password, a token or a hash. */
export interface AuthEvent {
  type: AuthEventType
  /** ISO 8601 time. */
  at: string
  userId?: string
  familyId?: string
  ip?: string
  userAgent?: string
  reason?: string
  /** The sign-in provider of an `oauth.*` event (its name in the `oauth.providers` option). */
  provider?: string
  /** The passkey of a `passkey.*` event: its credential id (public, as the browser gives it). */
  credentialId?: string
}

export type AuthEventFields = Omit<AuthEvent, 'type' | 'at'>

/** The `onEvent` option: sync or async; what it throws is logged, never thrown to the request. */
export type AuthEventListener = (event: AuthEvent) => void | Promise<void>

/** Subscribers of this diagnostics channel get every event, as `onEvent` does. */
export const EVENT_CHANNEL = 'fastify-jwt-auth:event'

const events = channel(EVENT_CHANNEL)

/** Events out to `onEvent` and the diagnostics channel; nothing is built when nobody listens. */
export function createEvents (onEvent: AuthEventListener | undefined, log: FastifyBaseLogger) {
  const failed = (error: unknown): void => { log.error({ err: error }, 'fastify-jwt-auth: onEvent failed') }

  return function emit (type: AuthEventType, fields: AuthEventFields = {}): void {
    if (onEvent === undefined && !events.hasSubscribers) return
    const event: AuthEvent = { type, at: new Date().toISOString() }
    for (const [name, value] of Object.entries(fields) as Array<[keyof AuthEventFields, unknown]>) {
      if (typeof value === 'string') event[name] = value
    }
    Object.freeze(event)
    if (events.hasSubscribers) events.publish(event)
    if (onEvent === undefined) return
    try {
      const done = onEvent(event)
      if (done instanceof Promise) done.catch(failed)
    } catch (error) {
      failed(error)
    }
  }
}

export type Emit = ReturnType<typeof createEvents>
