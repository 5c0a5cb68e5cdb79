// For the hostile, cross-instance and audit-event tests of the account flows: the app of
// account-app.ts, with its log lines captured and its user callbacks open to wrapping.
import { createHash } from 'node:crypto'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import jwtAuth from '../../lib/index.js'
import type { AnyStore } from './app.js'
import { accountOptions, Inbox, userCallbacks, type AccountApp, type AccountUser } from './account-app.js'

export interface Callbacks {
  findById: (id: string) => Promise<unknown>
  findByLogin: (login: string) => Promise<unknown>
  updatePasswordHash: (id: string, passwordHash: string) => Promise<void>
  markEmailVerified: (id: string) => Promise<void>
  create: (input: { username: string, passwordHash: string }) => Promise<unknown>
}

export interface HarnessOptions {
  routes?: Record<string, unknown>
  options?: Record<string, unknown>
  inbox?: Inbox
  /** Wraps the default user callbacks (a slow lookup, a store paused mid-flow...). */
  callbacks?: (defaults: Callbacks) => Partial<Callbacks>
}

export interface HarnessApp extends AccountApp {
  /** Every log line the app wrote (level trace), as JSON text. */
  logs: string[]
  /** Calls of each user callback, by name. */
  calls: Record<keyof Callbacks, number>
}

/** Copies of users (one argon2 hash per file is enough): each app gets its own records. */
export const cloneUsers = (users: AccountUser[]): AccountUser[] => users.map((user) => ({ ...user, roles: [...user.roles] }))

/** The plugin with every account flow on, logging at trace level into `app.logs`; no captcha, no rate limit. */
export async function buildHarness (
  store: AnyStore | undefined,
  users: AccountUser[],
  { routes = {}, options = {}, inbox = new Inbox(), callbacks }: HarnessOptions = {}
): Promise<HarnessApp> {
  const logs: string[] = []
  const stream = new Writable({ write (chunk, encoding, done) { logs.push(String(chunk)); done() } })
  const app = Fastify({ logger: { level: 'trace', stream } }) as unknown as HarnessApp
  app.logs = logs
  app.inbox = inbox
  app.events = []
  app.users = users
  const calls = { findById: 0, findByLogin: 0, updatePasswordHash: 0, markEmailVerified: 0, create: 0 }
  app.calls = calls
  const defaults: Callbacks = userCallbacks(users)
  const chosen = { ...defaults, ...callbacks?.(defaults) }
  const counted = Object.fromEntries(Object.entries(chosen).map(([name, callback]) => [name, (...args: unknown[]) => {
    calls[name as keyof Callbacks]++
    return (callback as (...args: unknown[]) => Promise<unknown>)(...args)
  }]))
  await app.register(jwtAuth, accountOptions(app, store, counted, { routes, options, inbox }))
  await app.ready()
  return app
}

/** The SHA-256 the store keeps of a one-time token (base64url): it must never appear anywhere either. */
export const tokenDigest = (token: string): string => createHash('sha256').update(token).digest('base64url')

/** An inject that must answer within `ms`: a hang is a failure, not a timeout of the whole file. */
export async function within<T> (ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((resolve, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms) })
  try {
    return await Promise.race([promise, limit])
  } finally {
    clearTimeout(timer)
  }
}

/** A user callback whose first call fails as a database that is down would; the calls after it go through. */
export function failingOnce<A extends unknown[]> (callback: (...args: A) => Promise<void>) {
  let failed = false
  return async (...args: A): Promise<void> => {
    if (!failed) {
      failed = true
      throw new Error('database unavailable')
    }
    await callback(...args)
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export function post (app: FastifyInstance, url: string, payload: unknown, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url, payload: payload as Record<string, unknown>, headers })
}

/** The `fam` claim of a token, read without verifying it. */
export const familyOf = (token: string): string =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).fam
