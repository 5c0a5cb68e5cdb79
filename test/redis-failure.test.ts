import Fastify from 'fastify'
import t from 'tap'
import { eventually } from './helpers/eventually.js'
import jwtAuth from '../lib/index.js'
import { redisStore } from '../lib/stores/redis.js'
import { bearer, buildApp, SECRET } from './helpers/app.js'
import { RedisServer, startRedis } from './helpers/redis.js'

async function timed (request: () => Promise<{ statusCode: number }>): Promise<{ status: number, ms: number }> {
  const started = Date.now()
  const { statusCode } = await request()
  return { status: statusCode, ms: Date.now() - started }
}

t.test('Redis killed under requests: 503 (never 200) within about 2 s; back to 200 when Redis returns', async (t) => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const store = redisStore({ url: server.url })
  const app = await buildApp(store)
  t.teardown(async () => { await app.close(); await store.close() })
  const { accessToken, refreshToken } = await app.jwtAuth.issue({ id: 1 })
  t.ok(await eventually(() => store.userInvalidations.live, 3000))
  const me = () => app.inject({ url: '/me', headers: bearer(accessToken) })
  t.equal((await me()).statusCode, 200)

  // Requests in flight while the server dies.
  const inFlight = Array.from({ length: 20 }, (_, i) => new Promise((resolve) => setTimeout(resolve, i * 5)).then(() => timed(me)))
  await server.kill()
  const results = await Promise.all(inFlight)
  t.ok(results.every(({ status }) => status === 200 || status === 503), `statuses: ${[...new Set(results.map((r) => r.status))].join(', ')}`)
  t.ok(results.every(({ ms }) => ms < 2500), `slowest ${Math.max(...results.map((r) => r.ms))} ms`)

  const down = await Promise.all(Array.from({ length: 10 }, () => timed(me)))
  t.ok(down.every(({ status }) => status === 503), 'every request while Redis is down is refused with 503')
  t.ok(down.every(({ ms }) => ms < 2500), `slowest ${Math.max(...down.map((r) => r.ms))} ms`)
  await t.rejects(app.jwtAuth.issue({ id: 1 }), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE' }, 'no token is issued')
  await t.rejects(app.jwtAuth.refresh(refreshToken), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE' }, 'none is refreshed')
  t.notOk(store.userInvalidations.live, 'user invalidations are not live: the user cache is not used')

  await server.start() // same port; an empty Redis (no persistence in the tests)
  let recovered = false
  for (let attempt = 0; attempt < 50 && !recovered; attempt++) {
    recovered = (await me()).statusCode === 200
    if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.ok(recovered, 'recovers by itself when Redis is back')
  t.ok(await app.jwtAuth.issue({ id: 1 }), 'and issues tokens again')
  t.ok(await eventually(() => store.userInvalidations.live, 3000), 'user invalidations are live again (resubscribed)')
})

t.test('Redis paused (SIGSTOP): 503 within about 2 s once the revocation mirror is stale, then recovery on SIGCONT', async (t) => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const app = await buildApp(redisStore({ url: server.url }))
  t.teardown(async () => { await app.close(); await app.jwtAuth.store.close?.() })
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  const me = () => app.inject({ url: '/me', headers: bearer(accessToken) })

  server.pause()
  // The mirror answers for at most staleAfter (1 s; nothing can be revoked while Redis is frozen), then requests read Redis.
  await new Promise((resolve) => setTimeout(resolve, 1300))
  const hung = await Promise.all(Array.from({ length: 10 }, () => timed(me)))
  t.ok(hung.every(({ status }) => status === 503), `statuses: ${[...new Set(hung.map((r) => r.status))].join(', ')}`)
  t.ok(hung.every(({ ms }) => ms < 2500), `slowest ${Math.max(...hung.map((r) => r.ms))} ms`)
  server.resume()
  let recovered = false
  for (let attempt = 0; attempt < 50 && !recovered; attempt++) {
    recovered = (await me()).statusCode === 200
    if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.ok(recovered, 'recovers when Redis answers again')
})

t.test('a user-supplied client is bounded by storeTimeout even without fail-fast options', async (t) => {
  const { Redis } = await import('ioredis')
  const server = await startRedis()
  t.teardown(() => server.stop())
  const client = new Redis(server.url) // ioredis defaults: offline queue, 20 retries, no command timeout
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  // Without the mirror: this is about the round trip to a Redis that does not answer.
  const app = await buildApp(redisStore({ client, mirror: false }), { options: { storeTimeout: '500ms' } })
  t.teardown(() => app.close())
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  server.pause()
  const result = await timed(() => app.inject({ url: '/me', headers: bearer(accessToken) }))
  t.equal(result.status, 503)
  t.ok(result.ms < 1500, `${result.ms} ms with storeTimeout 500 ms`)
  server.resume()
})

t.test('the rate limiter on a dead Redis fails closed with 503, not 500', async (t) => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, store: redisStore({ url: server.url }), routes: { captcha: false }, users: { findByLogin: async () => null } })
  t.teardown(async () => { await app.close(); await app.jwtAuth.store.close?.() })
  t.equal((await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'a', password: 'b' } })).statusCode, 401)
  await server.kill()
  const response = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'a', password: 'b' } })
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'FST_JWT_AUTH_STORE_UNAVAILABLE')
})

t.test('a Redis that never answers at start-up (startOffline): 503, no crash', async (t) => {
  const server = new RedisServer(await (await import('./helpers/redis.js')).freePort()) // never started
  const app = await buildApp(redisStore({ url: server.url, startOffline: true }))
  t.teardown(async () => { await app.close(); await app.jwtAuth.store.close?.() })
  await t.rejects(app.jwtAuth.issue({ id: 1 }), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE' })
})

t.test('closing a store whose Redis is gone ends reconnection at once', async (t) => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const store = redisStore({ url: server.url })
  await store.locks.lock('a', 1, 5)
  await server.kill()
  await new Promise((resolve) => setTimeout(resolve, 200))
  const started = Date.now()
  await store.close()
  t.ok(Date.now() - started < 1500, 'close does not hang')
  await server.start() // Redis is back on the same port...
  await new Promise((resolve) => setTimeout(resolve, 2500)) // ...for longer than the longest reconnect delay
  t.not(store.client.status, 'ready', 'the closed store did not reconnect')
})

t.test('through Sentinel: redisStore({ redisOptions: { sentinels, name } })', async (t) => {
  const { startSentinel } = await import('./helpers/redis.js')
  const { sentinel, stop } = await startSentinel()
  t.teardown(stop)
  const store = redisStore({ redisOptions: { sentinels: [{ host: '127.0.0.1', port: sentinel.port }], name: 'mymaster' } })
  // Strict rotation: the spent token presented again is a reuse at once.
  const app = await buildApp(store, { options: { refreshGrace: 0 } })
  t.teardown(async () => { await app.close(); await app.jwtAuth.store.close?.() })
  t.ok(await eventually(() => store.mirrorSynced && store.userInvalidations.live, 3000), 'the subscription syncs through Sentinel too')
  const login = await app.jwtAuth.issue({ id: 1 })
  t.equal((await app.inject({ url: '/me', headers: bearer(login.accessToken) })).statusCode, 200)
  const rotated = await app.jwtAuth.refresh(login.refreshToken)
  await t.rejects(app.jwtAuth.refresh(login.refreshToken), { code: 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED' })
  t.equal((await app.inject({ url: '/me', headers: bearer(rotated.accessToken) })).statusCode, 401)
})

t.test('an outage does not pile up commands: the offline queue stays bounded', async (t) => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const store = redisStore({ url: server.url })
  const app = await buildApp(store)
  t.teardown(async () => { await app.close(); await store.close() })
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  await server.kill()
  // The dropped connection reaches the mirror within a moment; until then it still answers (nothing can be revoked meanwhile).
  t.ok(await eventually(() => !store.mirrorSynced, 1000))
  const queue = (): number => (store.client as unknown as { offlineQueue: { length: number } }).offlineQueue.length
  let peak = 0
  const statuses = new Set<number>()
  // 200 requests over about 1.5 seconds of outage
  for (let burst = 0; burst < 4; burst++) {
    const responses = await Promise.all(Array.from({ length: 50 }, () => app.inject({ url: '/me', headers: bearer(accessToken) })))
    for (const response of responses) statuses.add(response.statusCode)
    peak = Math.max(peak, queue())
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
  t.same([...statuses], [503])
  await new Promise((resolve) => setTimeout(resolve, 2500))
  t.ok(peak <= 100, `at most one burst queued at a time (peak ${peak} commands)`)
  t.equal(queue(), 0, 'and the queue drains while Redis is still down')
})
