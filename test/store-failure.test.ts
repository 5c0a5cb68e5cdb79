import t from 'tap'
import { memoryStore, type AuthStore } from '../lib/index.js'
import { createStoreGuard } from '../lib/stores/guard.js'
import { bearer, brokenStore, buildApp } from './helpers/app.js'
import { keyValueStore } from './helpers/kv-store.js'

type Mode = 'ok' | 'throw' | 'hang' | 'sync-throw'

// A store that works until told to break: tokens are issued while it works.
// Every method of every port goes through the switch.
function switchableStore (): AuthStore & { mode: Mode } {
  const inner = memoryStore()
  const state = { mode: 'ok' as Mode }
  const route = (port: Record<string, unknown>) => Object.fromEntries(Object.entries(port).map(([name, method]) => [name,
    (...args: unknown[]) => state.mode === 'ok'
      ? (method as (...args: unknown[]) => unknown)(...args)
      : (brokenStore(state.mode).get as (...args: unknown[]) => unknown)(...args)]))
  return Object.assign(state, {
    revocations: route({ raise: inner.revocations.raise, read: inner.revocations.read }),
    refreshTokens: route({ ...inner.refreshTokens }),
    sessions: route({ ...inner.sessions }),
    counters: route({ ...inner.counters }),
    locks: route({ ...inner.locks }),
    challenges: route({ ...inner.challenges }),
    close: () => inner.close()
  }) as unknown as AuthStore & typeof state
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

t.test('a refresh whose rotation fails does not count as reuse', async (t) => {
  const inner = memoryStore()
  let failRotate = true
  const store: AuthStore = {
    ...inner,
    refreshTokens: {
      ...inner.refreshTokens,
      rotate: async (rotation) => { if (failRotate) throw new Error('rotate failed'); return inner.refreshTokens.rotate(rotation) }
    },
    close: () => inner.close()
  }
  const app = await buildApp(store)
  t.teardown(async () => { await app.close(); await inner.close() })
  const pair = await app.jwtAuth.issue({ id: 1 })
  await t.rejects(app.jwtAuth.refresh(pair.refreshToken), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE', statusCode: 503 })
  failRotate = false
  const rotated = await app.jwtAuth.refresh(pair.refreshToken)
  t.equal((await app.inject({ url: '/me', headers: bearer(rotated.accessToken) })).statusCode, 200, 'the refresh token was still live, its family intact')
})

t.test('a store whose peek cannot answer locally falls back to read, for either marker', async (t) => {
  for (const unknownScope of ['family', 'user'] as const) {
    const inner = memoryStore()
    const reads: string[] = []
    const store: AuthStore = {
      ...inner,
      revocations: {
        raise: inner.revocations.raise,
        read: (scope, id) => { reads.push(scope); return inner.revocations.read(scope, id) },
        peek: (scope, id) => scope === unknownScope ? undefined : inner.revocations.peek!(scope, id)
      },
      close: () => inner.close()
    }
    const app = await buildApp(store)
    t.teardown(async () => { await app.close(); await inner.close() })
    const pair = await app.jwtAuth.issue({ id: 1 })
    reads.length = 0
    t.equal((await app.inject({ url: '/me', headers: bearer(pair.accessToken) })).statusCode, 200)
    t.same(reads.sort(), ['family', 'user'], `${unknownScope} unknown locally: both markers read`)
    await app.jwtAuth.revoke(pair.accessToken)
    t.equal((await app.inject({ url: '/me', headers: bearer(pair.accessToken) })).statusCode, 401)
  }
})

t.test('a key-value rotation that fails halfway leaves the token live: the retry is no reuse', async (t) => {
  const store = keyValueStore({ atomic: true })
  const set = store.set
  let failNext = false
  store.set = async (key, value, ttl, kind) => {
    if (failNext && value.startsWith('L')) {
      failNext = false
      throw new Error('write failed')
    }
    return set(key, value, ttl, kind)
  }
  const app = await buildApp(store)
  t.teardown(() => app.close())
  const pair = await app.jwtAuth.issue({ id: 1 })
  failNext = true
  await t.rejects(app.jwtAuth.refresh(pair.refreshToken), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE' })
  const retried = await app.jwtAuth.refresh(pair.refreshToken)
  t.equal((await app.inject({ url: '/me', headers: bearer(retried.accessToken) })).statusCode, 200, 'the family is intact')
  t.equal((await app.inject({ url: '/me', headers: bearer(pair.accessToken) })).statusCode, 200)
})

t.test('the 503\'s cause carries no command arguments of the store\'s client', async (t) => {
  const guard = createStoreGuard(1000)
  const failure = Object.assign(new Error('OOM command not allowed'), { command: { name: 'evalsha', args: ['the-captcha-answer'] } })
  const error = await guard(() => Promise.reject(failure)).catch((error: unknown) => error) as Error & { cause: object }
  t.match(error, { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE', cause: { message: 'OOM command not allowed' } })
  t.notOk('command' in error.cause, 'the arguments (a captcha answer here) are gone')
  t.equal(await guard(() => Promise.resolve(1)), 1)
  const plain = await guard(() => Promise.reject(new Error('x'))).catch((error: unknown) => error) as Error & { cause: Error }
  t.equal(plain.cause.message, 'x')
})

t.test('a store\'s attach may wait: register resolves after it; when it rejects, register fails and detach is not called', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { default: jwtAuth } = await import('../lib/index.js')
  const calls: string[] = []
  const waiting = (outcome: 'ready' | 'unreachable'): AuthStore => Object.assign(memoryStore(), {
    async attach () {
      calls.push(`attach ${outcome}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
      calls.push(`attached ${outcome}`)
      if (outcome === 'unreachable') throw new Error('the backend is not there')
    },
    async detach () { calls.push(`detach ${outcome}`) }
  })

  const app = Fastify()
  await app.register(jwtAuth, { secret: 'x'.repeat(32), store: waiting('ready') })
  t.same(calls, ['attach ready', 'attached ready'], 'register resolved once attach had')
  await app.close()
  t.same(calls.slice(2), ['detach ready'])

  const failed = Fastify()
  await t.rejects(async () => { await failed.register(jwtAuth, { secret: 'x'.repeat(32), store: waiting('unreachable') }) },
    { message: 'the backend is not there' }, 'register fails with the store\'s error')
  await failed.close()
  t.same(calls.slice(3), ['attach unreachable', 'attached unreachable'], 'and detach is not called for an app it never served')
})
