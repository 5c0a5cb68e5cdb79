import Fastify, { type FastifyInstance } from 'fastify'
import jwtAuth, { hashPassword, memoryStore, type AuthEvent, type JwtAuthOptions, type JwtAuthUsers, type StoredFactors } from '../../lib/index.js'
import { totpCode } from '../../lib/testing.js'
import { SECRET } from './app.js'
import type { AnyStore } from './app.js'

export const MFA_KEY = 'an-mfa-encryption-key-of-32-bytes!!'
export const PASSWORD = 'correct horse battery'

export interface MfaUser { id: string, username: string, passwordHash: string, roles: string[], email?: string }

/** The users callbacks with the MFA group, over maps: copies out, as a database gives; `factors` is the table. */
export function mfaUsers (records: MfaUser[], factors = new Map<string, StoredFactors>()) {
  const copy = <T>(value: T): T => structuredClone(value)
  const factorsOf = (id: string): StoredFactors => factors.get(id) ?? { totp: null, recoveryCodes: [] }
  const users: Required<Pick<JwtAuthUsers, 'findById' | 'findByLogin' | 'updatePasswordHash' | 'findFactors' | 'enableTotp' | 'updateTotp' | 'disableTotp' | 'replaceRecoveryCodes' | 'useRecoveryCode'>> = {
    findById: async (id) => {
      const record = records.find((user) => user.id === id)
      if (record === undefined) return null
      const { passwordHash, ...user } = record
      return copy(user)
    },
    findByLogin: async (login) => copy(records.find((user) => user.username === login) ?? null),
    updatePasswordHash: async (id, hash) => { records.find((user) => user.id === id)!.passwordHash = hash },
    findFactors: async (id) => copy(factorsOf(id)),
    enableTotp: async (id, factor) => {
      if (factorsOf(id).totp !== null) return false
      factors.set(id, copy(factor))
      return true
    },
    updateTotp: async (id, totp, { previous }) => {
      const current = factorsOf(id)
      if (current.totp === previous) factors.set(id, { ...current, totp })
    },
    disableTotp: async (id) => { factors.delete(id) },
    replaceRecoveryCodes: async (id, recoveryCodes) => { factors.set(id, { ...factorsOf(id), recoveryCodes: [...recoveryCodes] }) },
    useRecoveryCode: async (id, code) => {
      const current = factorsOf(id)
      if (!current.recoveryCodes.includes(code)) return false
      factors.set(id, { ...current, recoveryCodes: current.recoveryCodes.filter((other) => other !== code) })
      return true
    }
  }
  return { users, factors }
}

let passwordHash: Promise<string> | undefined
/** alice, bob and carol, with one password (hashed once per test file: argon2 is slow on purpose). */
export async function mfaRecords (): Promise<MfaUser[]> {
  const hash = await (passwordHash ??= hashPassword(PASSWORD))
  return ['alice', 'bob', 'carol'].map((username, index) => ({
    id: String(index + 1), username, passwordHash: hash, roles: ['user'], email: `${username}@example.test`
  }))
}

export interface MfaApp extends FastifyInstance {
  events: AuthEvent[]
  factors: Map<string, StoredFactors>
  records: MfaUser[]
}

export interface MfaAppOptions {
  store?: AnyStore
  mfa?: Record<string, unknown>
  options?: Record<string, unknown>
  routes?: Record<string, unknown>
  records?: MfaUser[]
  /** The factors table, to share it between apps (instances, or a restart with other keys). */
  factors?: Map<string, StoredFactors>
  /** Fastify's logger options. */
  logger?: Record<string, unknown>
  users?: (users: ReturnType<typeof mfaUsers>['users']) => Record<string, unknown>
  before?: (app: FastifyInstance) => Promise<void>
  /** Declares the app's own routes, after the plugin. */
  after?: (app: FastifyInstance) => void
}

/** The plugin with its routes and the mfa option; no captcha, no rate limit; events into `app.events`. */
export async function buildMfaApp (t: { teardown: (fn: () => unknown) => void }, given: MfaAppOptions = {}): Promise<MfaApp> {
  const records = given.records ?? await mfaRecords()
  const { users, factors } = mfaUsers(records, given.factors)
  const app = Fastify(given.logger === undefined ? {} : { logger: given.logger }) as unknown as MfaApp
  app.events = []
  app.factors = factors
  app.records = records
  await given.before?.(app)
  await app.register(jwtAuth, {
    secret: SECRET,
    ...(given.store === undefined ? {} : { store: given.store }),
    rateLimit: false,
    onEvent: (event: AuthEvent) => { app.events.push(event) },
    users: given.users?.(users) ?? users,
    routes: { captcha: false, ...given.routes },
    mfa: { encryptionKey: MFA_KEY, totp: { issuer: 'Example' }, ...given.mfa },
    ...given.options
  } as JwtAuthOptions)
  given.after?.(app)
  await app.ready()
  t.teardown(() => app.close())
  return app
}

/** A session of the user, without the login route: its bearer header and family. */
export async function sessionOf (app: FastifyInstance, id: string): Promise<{ headers: { authorization: string }, accessToken: string, refreshToken: string }> {
  // As after a password login: amr pwd, auth_time now.
  const pair = await app.jwtAuth.issue({ id, roles: ['user'] }, { amr: ['pwd'] })
  return { headers: { authorization: `Bearer ${pair.accessToken}` }, accessToken: pair.accessToken, refreshToken: pair.refreshToken }
}

/** A memory store whose methods named in `failing` (`'challenges.take'`) throw, as a store that went down. */
export function flakyStore () {
  const store = memoryStore()
  const failing = new Set<string>()
  for (const port of ['revocations', 'refreshTokens', 'sessions', 'counters', 'locks', 'challenges'] as const) {
    const object = store[port] as unknown as Record<string, (...args: unknown[]) => unknown>
    for (const [method, call] of Object.entries(object)) {
      object[method] = (...args: unknown[]) => {
        if (failing.has(`${port}.${method}`)) return Promise.reject(new Error(`${port}.${method} down`))
        return call.apply(object, args)
      }
    }
  }
  return Object.assign(store, { failing })
}

/** Turns TOTP on for the user through the API, with a code of the step before now (now's is left for a login). */
export async function enrol (app: FastifyInstance, id: string): Promise<{ secret: string, recoveryCodes: string[] }> {
  const { secret } = await app.jwtAuth.mfa.setupTotp(id)
  const { recoveryCodes } = await app.jwtAuth.mfa.confirmTotp(id, totpCode(secret, { timestamp: Date.now() - 30_000 }))
  return { secret, recoveryCodes }
}

export function loginRequest (app: FastifyInstance, username: string, password = PASSWORD) {
  return app.inject({ method: 'POST', url: '/auth/login', payload: { username, password } })
}

export function verifyRequest (app: FastifyInstance, payload: Record<string, unknown>, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/auth/mfa/verify', payload, headers })
}
