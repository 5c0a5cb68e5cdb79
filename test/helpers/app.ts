import { createHmac } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import jwtAuth, { memoryStore, type AuthStore, type KeyValueStore, type JwtAuthOptions, type HmacOptions } from '../../lib/index.js'
import { redisStore } from '../../lib/redis.js'
import { keyValueStore } from './kv-store.js'
import { sharedRedis } from './redis.js'

export const SECRET = 'test-secret-that-is-at-least-32-bytes-long!!'
export const ISSUER = 'test-api'
export const AUDIENCE = 'test-app'

export interface TestUser {
  id: number
  username: string
  roles: string[]
  passwordHash?: string
}

export const USERS: TestUser[] = [
  { id: 1, username: 'alice', roles: ['admin'] },
  { id: 2, username: 'bob', roles: ['user'] },
  { id: 3, username: 'carol', roles: [] }
]

let redisPrefixes = 0

export type AnyStore = AuthStore | KeyValueStore

/**
 * The stores every behaviour test runs against: one suite, every store. A
 * key-value store rotates with a take then a set, so it cannot hand one
 * successor to concurrent refreshes (`atomicRotation: false`).
 */
export const STORE_FACTORIES: Array<{ name: string, create: () => Promise<AnyStore> | AnyStore, atomicRotation?: false }> = [
  { name: 'memory', create: () => memoryStore() },
  { name: 'key-value', create: () => keyValueStore(), atomicRotation: false },
  { name: 'key-value with atomic methods', create: () => keyValueStore({ atomic: true }), atomicRotation: false },
  // A real redis-server per test file; each store gets its own key prefix.
  { name: 'redis', create: async () => redisStore({ url: (await sharedRedis()).url, keyPrefix: `test${++redisPrefixes}:` }) }
]

export interface BuildOptions {
  options?: Partial<HmacOptions> | Record<string, unknown>
  users?: TestUser[]
  findById?: boolean
}

export type TestApp = FastifyInstance & { findByIdCalls: string[] }

/** A Fastify app with the plugin and routes: /me (authenticate), /admin (authorize admin), /public. */
export async function buildApp (store: AnyStore | undefined, { options = {}, users = USERS, findById = true }: BuildOptions = {}): Promise<TestApp> {
  const app = Fastify() as unknown as TestApp
  const findByIdCalls: string[] = []
  app.findByIdCalls = findByIdCalls
  await app.register(jwtAuth, {
    secret: SECRET,
    issuer: ISSUER,
    audience: AUDIENCE,
    ...(store === undefined ? {} : { store }),
    ...(findById
      ? {
          users: {
            findById: async (id: string) => {
              findByIdCalls.push(id)
              return users.find((user) => String(user.id) === id) ?? null
            }
          }
        }
      : {}),
    ...options
  } as JwtAuthOptions)
  app.get('/public', async () => ({ ok: true }))
  app.get('/me', { onRequest: app.authenticate }, async (request) => ({ user: request.user, claims: request.auth?.claims }))
  app.get('/admin', { preHandler: app.authorize('admin') }, async (request) => ({ admin: request.user }))
  app.post('/editor', { onRequest: [app.authenticate, app.authorize('editor', 'admin')] }, async () => ({ ok: true }))
  await app.ready()
  return app
}

export function bearer (token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` }
}

const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url')

/**
 * Signs arbitrary header and payload JSON with HMAC (or puts the signature
 * given): the attacker's tool for crafting hostile tokens.
 */
export function craftToken (header: unknown, payload: unknown, { secret = SECRET, alg = 'sha256', signature }: { secret?: string | Buffer, alg?: string, signature?: string } = {}): string {
  const head = typeof header === 'string' ? header : b64url(JSON.stringify(header))
  const body = typeof payload === 'string' ? payload : b64url(JSON.stringify(payload))
  const input = `${head}.${body}`
  const sig = signature ?? createHmac(alg, secret).update(input).digest('base64url')
  return `${input}.${sig}`
}

export function decodePart (token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index] as string, 'base64url').toString())
}

/** Valid claims for an access token of user 1, as the plugin would sign them. */
export function accessClaims (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return { sub: '1', jti: 'j1', fam: 'f1', iat: now, exp: now + 600, iss: ISSUER, aud: AUDIENCE, roles: ['admin'], ...overrides }
}

export const ACCESS_HEADER = { alg: 'HS256', typ: 'at+jwt' }
export const REFRESH_HEADER = { alg: 'HS256', typ: 'rt+jwt' }

/** A store whose every operation rejects, throws, or never settles: for failing closed. */
export function brokenStore (mode: 'throw' | 'hang' | 'sync-throw'): KeyValueStore {
  const fail = (): Promise<never> => {
    if (mode === 'sync-throw') throw new Error('store exploded synchronously')
    if (mode === 'throw') return Promise.reject(new Error('store down'))
    return new Promise<never>(() => {})
  }
  return { set: fail, get: fail, take: fail, delete: fail }
}

/** For the suites run once per store: a fresh store and an app on it, both closed at teardown. */
export async function appOnStore (t: { teardown: (fn: () => unknown) => void }, create: () => Promise<AnyStore> | AnyStore, build: BuildOptions = {}): Promise<TestApp> {
  const store = await create()
  t.teardown(() => store.close?.())
  const app = await buildApp(store, build)
  t.teardown(() => app.close())
  return app
}
