// Issue 20: a refresh token whose record the store lacks is not proof of reuse. A write lost in a failover (a
// rotation acknowledged by a master that was then demoted) leaves the client holding a validly signed token the
// store never heard of: 401 FST_JWT_AUTH_REFRESH_TOKEN_UNKNOWN and a `refresh.unknown` event, nothing revoked.
// A token the store holds as spent, or that its family has rotated past, is a reuse exactly as before.
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { memoryStore, type AuthEvent, type AuthStore, type KeyValueStore } from '../lib/index.js'
import { redisStore } from '../lib/redis.js'
import { bearer, buildApp, craftToken, decodePart, REFRESH_HEADER, type TestApp } from './helpers/app.js'
import { keyValueStore } from './helpers/kv-store.js'
import { sharedRedis } from './helpers/redis.js'

interface Subject { app: TestApp, events: AuthEvent[] }

async function subject (t: Test, store: AuthStore | KeyValueStore, refreshGrace = '10s'): Promise<Subject> {
  const events: AuthEvent[] = []
  const onEvent = (event: AuthEvent): void => { events.push(event) }
  // The routes too (no login through them: users.findByLogin finds nobody), for POST /auth/refresh.
  const users = { findById: async (id: string) => ({ id }), findByLogin: async () => null }
  const app = await buildApp(store, { options: { refreshGrace, onEvent, users, routes: { captcha: false } } })
  t.teardown(async () => {
    await app.close()
    await store.close?.()
  })
  return { app, events }
}

const claimsOf = (token: string): { fam: string, jti: string, gen?: number } =>
  decodePart(token, 1) as { fam: string, jti: string, gen?: number }
const types = (events: AuthEvent[]): string[] => events.map((event) => event.type)
const me = async (app: TestApp, access: string): Promise<number> =>
  (await app.inject({ url: '/me', headers: bearer(access) })).statusCode

/** The record of a token, gone: what a store that lost the write answers. */
type Forget = (fam: string, jti: string) => Promise<void>

const STORES: Array<{ name: string, create: () => Promise<{ store: AuthStore | KeyValueStore, forget: Forget }> }> = [
  {
    name: 'memory',
    create: async () => {
      const store = memoryStore()
      return { store, forget: (fam, jti) => store.refreshTokens.discard(fam, jti) }
    }
  },
  {
    name: 'key-value',
    create: async () => {
      const store = keyValueStore({ atomic: true })
      return { store, forget: (fam, jti) => store.delete(`rt:${jti}`) }
    }
  },
  {
    name: 'redis',
    create: async () => {
      const store = redisStore({ url: (await sharedRedis()).url, keyPrefix: `lost${Math.random()}:` })
      return { store, forget: (fam, jti) => store.refreshTokens.discard(fam, jti) }
    }
  }
]

for (const { name, create } of STORES) {
  t.test(`${name}: a token without a record, its family not past it, is unknown, not a reuse`, async (t) => {
    const { store, forget } = await create()
    const { app, events } = await subject(t, store)
    const first = await app.jwtAuth.issue({ id: 1 })
    t.equal(claimsOf(first.refreshToken).gen, 0, 'a login starts at generation 0')
    const second = await app.jwtAuth.refresh(first.refreshToken)
    t.equal(claimsOf(second.refreshToken).gen, 1, 'each rotation one more')
    const { fam, jti } = claimsOf(second.refreshToken)
    await forget(fam, jti)
    events.length = 0
    await t.rejects(app.jwtAuth.refresh(second.refreshToken), { code: 'FST_JWT_AUTH_REFRESH_TOKEN_UNKNOWN', statusCode: 401 })
    t.same(types(events), ['refresh.unknown'], 'its own event, no refresh.reuse')
    t.match(events[0], { userId: '1', familyId: fam })
    t.equal(await me(app, second.accessToken), 200, 'the family is not revoked')
    const answer = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: second.refreshToken } })
    t.equal(answer.statusCode, 401)
    t.equal(answer.json().code, 'FST_JWT_AUTH_REFRESH_TOKEN_UNKNOWN', 'the route answers it too')
    t.match(answer.headers['www-authenticate'], /error="invalid_token"/)
    t.equal(await me(app, second.accessToken), 200, 'still not revoked')
  })

  t.test(`${name}: a token its family rotated past is a reuse, as before`, async (t) => {
    const { store } = await create()
    const { app, events } = await subject(t, store, '0s')
    const first = await app.jwtAuth.issue({ id: 1 })
    const second = await app.jwtAuth.refresh(first.refreshToken)
    events.length = 0
    await t.rejects(app.jwtAuth.refresh(first.refreshToken), { code: 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED' })
    t.same(types(events), ['refresh.reuse'])
    t.equal(await me(app, second.accessToken), 401, 'the family is revoked')
  })
}

t.test('a token signed before generations (no gen) without a record is taken for a reuse, as it was', async (t) => {
  const { app, events } = await subject(t, memoryStore())
  const pair = await app.jwtAuth.issue({ id: 1 })
  const { gen, ...legacy } = decodePart(pair.refreshToken, 1)
  t.equal(gen, 0)
  const stale = craftToken(REFRESH_HEADER, { ...legacy, jti: 'never-stored' })
  await t.rejects(app.jwtAuth.refresh(stale), { code: 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED' })
  t.same(types(events), ['refresh.reuse'])
})

t.test('a live token signed before generations rotates to generation 1', async (t) => {
  const store = memoryStore()
  const { app } = await subject(t, store)
  const pair = await app.jwtAuth.issue({ id: 1 })
  const { gen, ...legacy } = decodePart(pair.refreshToken, 1)
  t.equal(gen, 0)
  const next = await app.jwtAuth.refresh(craftToken(REFRESH_HEADER, legacy))
  t.equal(claimsOf(next.refreshToken).gen, 1)
  t.equal(await store.refreshTokens.generation!(claimsOf(next.refreshToken).fam), 1)
})

t.test('a store without generation: a token without a record is a reuse (it cannot tell)', async (t) => {
  const memory = memoryStore()
  const { generation, ...refreshTokens } = memory.refreshTokens
  t.type(generation, 'function')
  const store: AuthStore = { ...memory, refreshTokens, close: () => memory.close() }
  const { app, events } = await subject(t, store)
  const pair = await app.jwtAuth.issue({ id: 1 })
  const { fam, jti } = claimsOf(pair.refreshToken)
  await memory.refreshTokens.discard(fam, jti)
  await t.rejects(app.jwtAuth.refresh(pair.refreshToken), { code: 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED' })
  t.same(types(events), ['refresh.reuse'])
})

t.test('a store answering absent with a generation that is not a whole number: its generation() decides', async (t) => {
  const memory = memoryStore()
  const refreshTokens = {
    ...memory.refreshTokens,
    find: async (family: string, jti: string) =>
      await memory.refreshTokens.find(family, jti) ?? { state: 'absent' as const, generation: Number.NaN }
  }
  const store: AuthStore = { ...memory, refreshTokens, close: () => memory.close() }
  const { app, events } = await subject(t, store, '0s')
  const first = await app.jwtAuth.issue({ id: 1 })
  await app.jwtAuth.refresh(first.refreshToken)
  events.length = 0
  // NaN compares false with everything: taken as it came, the token would be unknown instead of a reuse.
  await t.rejects(app.jwtAuth.refresh(first.refreshToken), { code: 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED' })
  t.same(types(events), ['refresh.reuse'])
})

t.test('a store whose generation is not a function is refused at register, naming it', async (t) => {
  const memory = memoryStore()
  t.teardown(() => memory.close())
  const store = { ...memory, refreshTokens: { ...memory.refreshTokens, generation: 1 } } as unknown as AuthStore
  await t.rejects(buildApp(store), { message: /store\.refreshTokens\.generation must be a function when given/ })
})

t.test('redis: a rotation rolled back by a failover (the new master never had it) is unknown, not a reuse', async (t) => {
  const { url } = await sharedRedis()
  const prefix = 'rollback:'
  const admin = new Redis(url)
  t.teardown(() => admin.disconnect())
  const { app, events } = await subject(t, redisStore({ url, keyPrefix: prefix }), '0s')
  const first = await app.jwtAuth.issue({ id: 1 })
  const { fam, jti } = claimsOf(first.refreshToken)
  const tokenKey = `${prefix}rt:{${fam}}:${jti}`
  // What the new master holds: the state before the rotation the old master acknowledged.
  const before = await admin.get(tokenKey)
  const second = await app.jwtAuth.refresh(first.refreshToken)
  await admin.del(`${prefix}rt:{${fam}}:${claimsOf(second.refreshToken).jti}`, `${prefix}rg:{${fam}}`)
  await admin.set(tokenKey, before!, 'PX', 60_000)
  events.length = 0
  await t.rejects(app.jwtAuth.refresh(second.refreshToken), { code: 'FST_JWT_AUTH_REFRESH_TOKEN_UNKNOWN' })
  t.same(types(events), ['refresh.unknown'], 'no refresh.reuse, no family revoked')
  t.equal(await me(app, second.accessToken), 200, 'the access token of the lost rotation still works')
  const again = await app.jwtAuth.refresh(first.refreshToken)
  t.equal(claimsOf(again.refreshToken).gen, 1, 'the token the store still holds live rotates')
  t.same(types(events), ['refresh.unknown', 'refresh'])
})
