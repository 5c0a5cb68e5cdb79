// Type tests of fastify-jwt-auth/testing (the published declarations, through the exports map).
import { test as nodeTest } from 'node:test'
import Fastify, { type FastifyTypeProvider } from 'fastify'
import t from 'tap'
import { expect, test } from 'tstyche'
import jwtAuth, { memoryStore, type AuthStore, type JwtAuthUsers, type KeyValueStore } from 'fastify-jwt-auth'
import type { RedisStore } from 'fastify-jwt-auth/redis'
import {
  authCookies, authHeaders, checkStore, fakeUsers, storeConformance,
  type AppWithJwtAuth, type AuthCookieHeaders, type FakeUserRecord, type FakeUsers, type StoreConformanceOptions
} from 'fastify-jwt-auth/testing'

const app = Fastify()

test('fakeUsers: the plugin\'s users option, typed by the records given', () => {
  const users = fakeUsers([{ id: 1, username: 'alice', roles: ['admin'], email: 'a@example.com' }])
  type Shopper = { id: number, username: string, roles: string[], email: string }
  expect(users).type.toBe<FakeUsers<Shopper>>()
  expect(users.findById('1')).type.toBe<Promise<Shopper | null>>()
  expect(users.findByLogin('alice')).type.toBe<Promise<(Shopper & { passwordHash: string }) | null>>()
  expect(users.create({ username: 'bob', passwordHash: 'h', email: 'b@example.com' })).type.toBe<Promise<Shopper>>()
  // A user a provider signs in has no password (oauth): create takes NewUser, whose passwordHash is optional.
  expect(users.create).type.toBeCallableWith({ username: 'bob' })
  expect(users.create).type.not.toBeCallableWith({ passwordHash: 'h' })
  expect<JwtAuthUsers>().type.toBeAssignableFrom(users)
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: 'x'.repeat(32), users })
  expect(fakeUsers).type.toBeCallableWith([{ id: 'u-1' }, { id: 2, username: 'bob' }])
  expect(fakeUsers).type.not.toBeCallableWith([{ username: 'no id' }])
  expect(fakeUsers).type.not.toBeCallableWith([{ id: true }])
  expect(fakeUsers).type.not.toBeCallableWith([{ id: 1, roles: 'admin' }])
  expect<FakeUserRecord>().type.toBeAssignableFrom({ id: 1, roles: ['admin'] as readonly string[] })
})

test('authHeaders and authCookies: headers for inject, from an app with the plugin', async () => {
  expect(authHeaders(app, { id: 1 })).type.toBe<Promise<{ authorization: string }>>()
  expect(authCookies(app, { id: 1 })).type.toBe<Promise<AuthCookieHeaders>>()
  expect(authHeaders).type.toBeCallableWith(app, { id: 'u1', roles: ['admin'] }, { claims: { tenant: 'acme' } })
  expect(authCookies).type.toBeCallableWith(app, { id: 1 }, { metadata: { userAgent: 'test' } })
  expect(authHeaders).type.not.toBeCallableWith(app, { roles: ['admin'] })
  expect(authHeaders).type.not.toBeCallableWith({}, { id: 1 })
  expect<AppWithJwtAuth>().type.toBeAssignableFrom(app)
  interface TextProvider extends FastifyTypeProvider { validator: string, serializer: string }
  const typed = Fastify({ logger: true }).withTypeProvider<TextProvider>()
  expect(authHeaders).type.toBeCallableWith(typed, { id: 1 })
  expect(app.inject).type.toBeCallableWith({ url: '/', headers: await authHeaders(app, { id: 1 }) })
  expect(app.inject).type.toBeCallableWith({ url: '/', headers: await authCookies(app, { id: 1 }) })
  expect<AuthCookieHeaders>().type.toBe<{ cookie: string, 'x-csrf-token': string }>()
})

test('storeConformance: the test function of any runner, a store of either shape', () => {
  expect(storeConformance({ test: nodeTest, createStore: () => memoryStore() })).type.toBe<Promise<void>>()
  expect(storeConformance).type.toBeCallableWith({ test: t.test.bind(t), createStore: memoryStore })
  expect(storeConformance).type.toBeCallableWith({
    test: (name: string, fn: () => Promise<void>) => fn(),
    createStore: async (): Promise<KeyValueStore> => ({ set: async () => {}, get: async () => null, take: async () => null, delete: async () => {} }),
    closeStore: (store: KeyValueStore) => store.close?.(),
    shared: true,
    expiry: false,
    concurrency: 8
  })
  expect(storeConformance).type.toBeCallableWith({
    test: nodeTest,
    createStore: (): RedisStore => ({}) as RedisStore,
    closeStore: (store: RedisStore) => store.close()
  })
  expect(storeConformance).type.not.toBeCallableWith({ test: nodeTest })
  expect(storeConformance).type.not.toBeCallableWith({ test: nodeTest, createStore: () => ({ get: async () => null }) })
  expect(storeConformance).type.not.toBeCallableWith({ test: nodeTest, createStore: memoryStore, expiry: 'no' })
  expect<StoreConformanceOptions<AuthStore>['createStore']>().type.toBe<() => AuthStore | Promise<AuthStore>>()
  expect(checkStore).type.toBe<(store: unknown) => void>()
})
