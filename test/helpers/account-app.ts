import Fastify, { type FastifyInstance } from 'fastify'
import jwtAuth, { hashPassword, type AuthEvent, type JwtAuthOptions } from '../../lib/index.js'
import type { AnyStore } from './app.js'
import { SECRET } from './app.js'

export interface AccountUser {
  id: number
  username: string
  email: string
  emailVerified: boolean
  passwordHash: string
  roles: string[]
}

export const OLD_PASSWORD = 'old-password-1'

/** An inbox: every message the app's mailer was asked to send, and a way to wait for the next one. */
export class Inbox {
  readonly messages: Array<{ kind: 'reset' | 'verify', userId: string, token: string, expiresIn: number, user: Record<string, unknown> }> = []
  #waiting: Array<() => void> = []

  sender (kind: 'reset' | 'verify') {
    return async ({ user, token, expiresIn }: { user: unknown, token: string, expiresIn: number }) => {
      const record = user as Record<string, unknown>
      this.messages.push({ kind, userId: String(record.id), token, expiresIn, user: record })
      for (const wake of this.#waiting.splice(0)) wake()
    }
  }

  /** The next message of `kind` (already there, or the next to come within a second). */
  async next (kind: 'reset' | 'verify', from = 0): Promise<{ token: string, userId: string, user: Record<string, unknown>, expiresIn: number }> {
    for (let i = 0; i < 100; i++) {
      const found = this.messages.slice(from).find((message) => message.kind === kind)
      if (found !== undefined) return found
      await new Promise<void>((resolve) => { this.#waiting.push(resolve); setTimeout(resolve, 10) })
    }
    throw new Error(`no ${kind} message`)
  }
}

export async function seedAccountUsers (): Promise<AccountUser[]> {
  const passwordHash = await hashPassword(OLD_PASSWORD)
  return [
    { id: 1, username: 'alice', email: 'alice@example.test', emailVerified: true, passwordHash, roles: ['admin'] },
    { id: 2, username: 'bob', email: 'bob@example.test', emailVerified: false, passwordHash, roles: ['user'] }
  ]
}

export interface AccountApp extends FastifyInstance {
  inbox: Inbox
  events: AuthEvent[]
  users: AccountUser[]
}

/** The plugin with every account flow on; no captcha, no rate limit (tests of their own cover those). */
export async function buildAccountApp (
  store: AnyStore | undefined,
  users: AccountUser[],
  { routes = {}, options = {}, inbox = new Inbox() }: { routes?: Record<string, unknown>, options?: Record<string, unknown>, inbox?: Inbox } = {}
): Promise<AccountApp> {
  const app = Fastify() as unknown as AccountApp
  app.inbox = inbox
  app.events = []
  app.users = users
  await app.register(jwtAuth, accountOptions(app, store, userCallbacks(users), { routes, options, inbox }))
  await app.ready()
  return app
}

/** The user callbacks over `users`: copies out, as a database would give. */
export function userCallbacks (users: AccountUser[]) {
  const byId = (id: string) => users.find((user) => String(user.id) === id) ?? null
  return {
    findById: async (id: string): Promise<unknown> => {
      const user = byId(id)
      return user === null ? null : { ...user }
    },
    findByLogin: async (login: string): Promise<unknown> => {
      const user = users.find((candidate) => candidate.username === login)
      return user === undefined ? null : { ...user }
    },
    updatePasswordHash: async (id: string, passwordHash: string) => { byId(id)!.passwordHash = passwordHash },
    markEmailVerified: async (id: string) => { byId(id)!.emailVerified = true },
    create: async (input: { username: string, passwordHash: string }): Promise<unknown> => {
      const user = { ...input, id: users.length + 1, email: `${input.username}@example.test`, emailVerified: false, roles: [] }
      users.push(user)
      return user
    }
  }
}

/**
 * The routes for a key-value store without increment, which cannot count: no lockout and no per-account message
 * limits (register refuses both on such a store). The mailers are `inbox`'s unless `routes` gives its own.
 */
export function withoutCounters (routes: Record<string, unknown>, inbox: Inbox): Record<string, unknown> {
  const uncounted: Record<string, unknown> = {
    passwordReset: { send: inbox.sender('reset') },
    emailVerification: { send: inbox.sender('verify') },
    ...routes,
    lockout: false
  }
  for (const name of ['passwordReset', 'emailVerification']) {
    if (uncounted[name] !== false) uncounted[name] = { ...uncounted[name] as object, perAccount: false }
  }
  return uncounted
}

/** The plugin's options with every account flow on; no captcha, no rate limit, events into `app.events`. */
export function accountOptions (
  app: AccountApp,
  store: AnyStore | undefined,
  users: Record<string, unknown>,
  { routes = {}, options = {}, inbox }: { routes?: Record<string, unknown>, options?: Record<string, unknown>, inbox: Inbox }
): JwtAuthOptions {
  return {
    secret: SECRET,
    ...(store === undefined ? {} : { store }),
    rateLimit: false,
    onEvent: (event: AuthEvent) => { app.events.push(event) },
    users,
    routes: {
      captcha: false,
      passwordReset: { send: inbox.sender('reset') },
      emailVerification: { send: inbox.sender('verify') },
      ...routes
    },
    ...options
  } as JwtAuthOptions
}

export function loginRequest (app: FastifyInstance, username: string, password: string) {
  return app.inject({ method: 'POST', url: '/auth/login', payload: { username, password } })
}
