import t from 'tap'
import { memoryStore, type AuthStore } from '../lib/index.js'
import { bearer, brokenStore, buildApp } from './helpers/app.js'

// A store that works until told to break: tokens are issued while it works.
function switchableStore (): AuthStore & { mode: 'ok' | 'throw' | 'hang' | 'sync-throw' } {
  const inner = memoryStore()
  const state = { mode: 'ok' as 'ok' | 'throw' | 'hang' | 'sync-throw' }
  const route = <A extends unknown[], R>(method: (...args: A) => Promise<R>) => (...args: A): Promise<R> =>
    state.mode === 'ok' ? method(...args) : (brokenStore(state.mode)[method.name as 'get'] as unknown as (...args: A) => Promise<R>)(...args)
  return Object.assign(state, {
    set: route(inner.set.bind(inner)),
    get: route(inner.get.bind(inner)),
    take: route(inner.take.bind(inner)),
    delete: route(inner.delete.bind(inner)),
    close: () => inner.close()
  }) as AuthStore & typeof state
}

for (const mode of ['throw', 'sync-throw', 'hang'] as const) {
  t.test(`a store that ${mode}s fails closed with 503`, async (t) => {
    const store = switchableStore()
    t.teardown(() => store.close?.())
    const app = await buildApp(store, { options: { storeTimeout: 0.2 } })
    t.teardown(() => app.close())
    const pair = await app.jwtAuth.issue({ id: 1 })
    t.equal((await app.inject({ url: '/me', headers: bearer(pair.accessToken) })).statusCode, 200, 'works while the store works')

    store.mode = mode
    const started = Date.now()
    const response = await app.inject({ url: '/me', headers: bearer(pair.accessToken) })
    const elapsed = Date.now() - started
    t.equal(response.statusCode, 503)
    t.notOk(response.headers['www-authenticate'], 'no challenge: the credentials are not at fault')
    t.same(response.json(), { statusCode: 503, code: 'FST_JWT_AUTH_STORE_UNAVAILABLE', error: 'Service Unavailable', message: 'The authentication store is unavailable' })
    t.ok(elapsed < 2000, `answered in ${elapsed} ms (storeTimeout 200 ms)`)
    t.equal((await app.inject({ url: '/admin', headers: bearer(pair.accessToken) })).statusCode, 503, 'authorize too')

    await t.rejects(app.jwtAuth.issue({ id: 1 }), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE', statusCode: 503 }, 'no token is issued')
    await t.rejects(app.jwtAuth.refresh(pair.refreshToken), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE', statusCode: 503 }, 'no token is refreshed')
    await t.rejects(app.jwtAuth.verify(pair.accessToken), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE', statusCode: 503 })
    await t.rejects(app.jwtAuth.revoke(pair.accessToken), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE', statusCode: 503 }, 'a revocation that cannot be stored is an error, not a silent success')
    await t.rejects(app.jwtAuth.revokeAll(1), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE', statusCode: 503 })

    store.mode = 'ok'
    t.equal((await app.inject({ url: '/me', headers: bearer(pair.accessToken) })).statusCode, 200, 'recovers when the store is back')
  })
}

t.test('the 503 keeps the store error as its cause, for the logs', async (t) => {
  const app = await buildApp(brokenStore('throw'))
  t.teardown(() => app.close())
  const error = await app.jwtAuth.issue({ id: 1 }).catch((error: unknown) => error)
  t.match(error, { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE', cause: { message: 'store down' } })
  const hung = await buildApp(brokenStore('hang'), { options: { storeTimeout: 0.05 } })
  t.teardown(() => hung.close())
  const timeout = await hung.jwtAuth.issue({ id: 1 }).catch((error: unknown) => error)
  t.match(timeout, { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE', cause: { message: 'store did not answer within 50 ms' } })
})

t.test('a refresh whose take fails does not count as reuse', async (t) => {
  const inner = memoryStore()
  let failTake = true
  const store: AuthStore = {
    set: (key, value, ttl) => inner.set(key, value, ttl),
    get: (key) => inner.get(key),
    delete: (key) => inner.delete(key),
    take: async (key) => { if (failTake) throw new Error('take failed'); return inner.take(key) }
  }
  const app = await buildApp(store)
  t.teardown(async () => { await app.close(); await inner.close() })
  const pair = await app.jwtAuth.issue({ id: 1 })
  await t.rejects(app.jwtAuth.refresh(pair.refreshToken), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE', statusCode: 503 })
  failTake = false
  const rotated = await app.jwtAuth.refresh(pair.refreshToken)
  t.equal((await app.inject({ url: '/me', headers: bearer(rotated.accessToken) })).statusCode, 200, 'the refresh token was still live, its family intact')
})

t.test('a store whose peek cannot answer locally falls back to get, for either key', async (t) => {
  for (const unknownPrefix of ['fam:', 'usr:']) {
    const inner = memoryStore()
    const gets: string[] = []
    const store: AuthStore = {
      set: (key, value, ttl) => inner.set(key, value, ttl),
      get: (key) => { gets.push(key); return inner.get(key) },
      take: (key) => inner.take(key),
      delete: (key) => inner.delete(key),
      peek: (key) => key.startsWith(unknownPrefix) ? undefined : inner.peek(key)
    }
    const app = await buildApp(store)
    t.teardown(async () => { await app.close(); await inner.close() })
    const pair = await app.jwtAuth.issue({ id: 1 })
    gets.length = 0
    t.equal((await app.inject({ url: '/me', headers: bearer(pair.accessToken) })).statusCode, 200)
    t.same(gets.map((key) => key.slice(0, 4)).sort(), ['fam:', 'usr:'], `${unknownPrefix} unknown locally: both keys read with get`)
    await app.jwtAuth.revoke(pair.accessToken)
    t.equal((await app.inject({ url: '/me', headers: bearer(pair.accessToken) })).statusCode, 401)
  }
})
