// The edges of issue "Security at the edges" with several instances on one
// real Redis: user state the same everywhere within 50 ms, fresh users on
// refresh, a refresh that can be retried after a failover-style write pause,
// two tabs on two instances, and a captcha flood. No mocks of Redis.
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import jwtAuth, { type JwtAuthOptions } from '../lib/index.js'
import { redisStore, type RedisStore } from '../lib/redis.js'
import { bearer, decodePart, SECRET } from './helpers/app.js'
import { eventually } from './helpers/eventually.js'
import { startRedis, type RedisServer } from './helpers/redis.js'
import { CAPTCHA_TEXT, fixedCaptcha, PASSWORDS, seedUsers, type StoredUser } from './helpers/routes-app.js'

const seeded = await seedUsers()
const server = await startRedis()
t.teardown(() => server.stop())
const admin = new Redis(server.url)
t.teardown(() => admin.disconnect())
let prefixes = 0

interface Instance { app: FastifyInstance, store: RedisStore }

/** One instance: its own store (own connections) on the shared Redis, the users' table shared by reference. */
async function instance (t: Test, users: { list: StoredUser[] }, prefix: string, options: Record<string, unknown> = {}): Promise<Instance> {
  const store = redisStore({ url: server.url, keyPrefix: prefix })
  const app = Fastify({ trustProxy: true })
  await app.register(jwtAuth, {
    secret: SECRET,
    store,
    userCacheTtl: '1h',
    routes: { captcha: false },
    rateLimit: false,
    users: {
      findById: async (id: string) => users.list.find((user) => String(user.id) === id) ?? null,
      findByLogin: async (login: string) => users.list.find((user) => user.username === login) ?? null
    },
    ...options
  } as JwtAuthOptions)
  app.get('/me', { onRequest: app.authenticate }, async (request) => request.user)
  await app.ready()
  t.teardown(async () => { await app.close(); await store.close() })
  t.ok(await eventually(() => store.mirrorSynced, 3000), 'the store\'s subscription is in sync')
  return { app, store }
}

async function pair (t: Test, options: Record<string, unknown> = {}) {
  const users = { list: seeded.map((user) => ({ ...user })) }
  const prefix = `e${++prefixes}:`
  return { users, a: await instance(t, users, prefix, options), b: await instance(t, users, prefix, options) }
}

const loginOn = async (app: FastifyInstance, username: 'alice' | 'bob') =>
  (await app.inject({ method: 'POST', url: '/auth/login', payload: { username, password: PASSWORDS[username] } })).json()
const me = (app: FastifyInstance, token: string) => app.inject({ url: '/me', headers: bearer(token) })
const refreshOn = (app: FastifyInstance, token: string) => app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } })

t.test('invalidateUser on one instance is enforced by another within 50 ms', async (t) => {
  const { users, a, b } = await pair(t)
  const delays: number[] = []
  for (let trial = 0; trial < 10; trial++) {
    users.list[0] = { ...users.list[0]!, roles: ['admin'] }
    await a.app.jwtAuth.invalidateUser(1)
    const alice = await loginOn(a.app, 'alice')
    t.ok(await eventually(async () => (await me(b.app, alice.access_token)).json().roles?.[0] === 'admin', 100), 'B sees alice as admin')
    users.list[0] = { ...users.list[0]!, roles: ['user'] } // demoted in the table: B still has her cached
    t.same((await me(b.app, alice.access_token)).json().roles, ['admin'], 'cached on B')
    const started = performance.now()
    await a.app.jwtAuth.invalidateUser(1)
    const waited = await eventually(async () => (await me(b.app, alice.access_token)).json().roles[0] === 'user', 50, 1)
    t.ok(waited !== undefined, `trial ${trial}: B serves the demoted user within 50 ms`)
    delays.push(performance.now() - started)
  }
  delays.sort((x, y) => x - y)
  t.comment(`invalidateUser returned -> other instance serves the new record: median ${delays[5]!.toFixed(1)} ms, max ${delays[9]!.toFixed(1)} ms`)

  const bob = await loginOn(a.app, 'bob')
  t.equal((await me(b.app, bob.access_token)).statusCode, 200, 'bob cached on B')
  users.list.splice(1, 1) // disabled
  await a.app.jwtAuth.invalidateUser('2')
  t.ok(await eventually(async () => (await me(b.app, bob.access_token)).statusCode === 401, 50, 1), 'a disabled user is refused on B within 50 ms')
})

t.test('revokeAll on one instance also drops the user on the other', async (t) => {
  const { users, a, b } = await pair(t)
  const alice = await loginOn(a.app, 'alice')
  t.equal((await me(b.app, alice.access_token)).statusCode, 200)
  users.list[0] = { ...users.list[0]!, roles: ['auditor'] }
  await a.app.jwtAuth.revokeAll(1)
  const again = await loginOn(a.app, 'alice')
  t.ok(await eventually(async () => (await me(b.app, again.access_token)).json().roles?.[0] === 'auditor', 50, 1), 'B reloaded her within 50 ms')
  t.equal((await me(b.app, alice.access_token)).statusCode, 401, 'and refuses her old token')
})

t.test('after the subscription is lost and resynchronised, the user cache is dropped whole', async (t) => {
  const { users, a, b } = await pair(t)
  const alice = await loginOn(a.app, 'alice')
  t.same((await me(b.app, alice.access_token)).json().roles, ['admin'], 'cached on B')
  users.list[0] = { ...users.list[0]!, roles: ['user'] } // changed without telling anyone (nor A)
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  t.ok(await eventually(() => !b.store.mirrorSynced, 1000), 'B noticed')
  t.ok(await eventually(() => b.store.mirrorSynced, 3000), 'and resynchronised')
  t.same((await me(b.app, alice.access_token)).json().roles, ['user'], 'the cache was dropped: B read the user again')
})

t.test('refresh on another instance reads the user fresh: new roles, a disabled user gets nothing', async (t) => {
  const { users, a, b } = await pair(t)
  const alice = await loginOn(a.app, 'alice')
  const bob = await loginOn(a.app, 'bob')
  await me(b.app, alice.access_token)
  await me(b.app, bob.access_token)
  users.list[0] = { ...users.list[0]!, roles: ['user'] }
  users.list.splice(1, 1)
  const refreshed = await refreshOn(b.app, alice.refresh_token)
  t.same(decodePart(refreshed.json().access_token, 1).roles, ['user'], 'demoted in the new access token')
  t.equal((await refreshOn(b.app, bob.refresh_token)).json().code, 'FST_JWT_AUTH_USER_NOT_FOUND')
})

t.test('a refresh that answered 503 during CLIENT PAUSE WRITE can be retried: same pair, family intact', async (t) => {
  const { a } = await pair(t)
  for (let trial = 0; trial < 5; trial++) {
    const login = await loginOn(a.app, 'alice')
    await admin.call('CLIENT', 'PAUSE', '2500', 'WRITE')
    const started = performance.now()
    const during = await refreshOn(a.app, login.refresh_token)
    t.equal(during.statusCode, 503, `trial ${trial}: 503 while Redis refuses writes (after ${Math.round(performance.now() - started)} ms)`)
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 2600 - (performance.now() - started))))
    const retry = await refreshOn(a.app, login.refresh_token)
    t.equal(retry.statusCode, 200, 'the retry gets a pair, not REFRESH_TOKEN_REUSED')
    const again = await refreshOn(a.app, login.refresh_token)
    t.same(again.json(), retry.json(), 'the successor the queued rotation minted, every time')
    t.equal((await me(a.app, retry.json().access_token)).statusCode, 200, 'the family is intact')
    t.equal((await refreshOn(a.app, retry.json().refresh_token)).statusCode, 200, 'and refreshes on')
  }
})

t.test('two tabs refreshing one token at once on two instances get one successor', async (t) => {
  const { a, b } = await pair(t)
  for (let trial = 0; trial < 10; trial++) {
    const login = await loginOn(a.app, 'alice')
    const [one, two] = await Promise.all([refreshOn(a.app, login.refresh_token), refreshOn(b.app, login.refresh_token)])
    t.same([one.statusCode, two.statusCode], [200, 200])
    t.equal(one.json().refresh_token, two.json().refresh_token, 'the same refresh token')
    t.equal(decodePart(one.json().access_token, 1).jti, decodePart(two.json().access_token, 1).jti, 'the same access token id')
  }
})

t.test('reuse after the grace still revokes the family, on every instance', async (t) => {
  const { a, b } = await pair(t, { refreshGrace: '1s' })
  const login = await loginOn(a.app, 'alice')
  const next = (await refreshOn(a.app, login.refresh_token)).json()
  t.equal((await refreshOn(b.app, login.refresh_token)).statusCode, 200, 'within the grace')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await refreshOn(b.app, login.refresh_token)).json().code, 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED', 'after it')
  t.ok(await eventually(async () => (await me(a.app, next.access_token)).statusCode === 401, 50, 1), 'the family is revoked on A too')
})

t.test('a captcha flood on Redis never disables logout or another user\'s refresh', async (t) => {
  const users = { list: seeded.map((user) => ({ ...user })) }
  const prefix = `e${++prefixes}:`
  const store = redisStore({ url: server.url, keyPrefix: prefix, maxEphemeral: 50 })
  const app = Fastify({ trustProxy: true })
  await app.register(jwtAuth, {
    secret: SECRET,
    store,
    routes: { captcha: fixedCaptcha },
    users: {
      findById: async (id: string) => users.list.find((user) => String(user.id) === id) ?? null,
      findByLogin: async (login: string) => users.list.find((user) => user.username === login) ?? null
    }
  } as JwtAuthOptions)
  app.get('/me', { onRequest: app.authenticate }, async (request) => request.user)
  t.teardown(async () => { await app.close(); await store.close() })
  let address = 0
  const anywhere = () => ({ 'x-forwarded-for': `203.0.${(++address >> 8) & 255}.${address & 255}` })
  const captcha = async () => (await app.inject({ url: '/auth/captcha', headers: anywhere() })).json().captchaId as string
  const login = async (username: 'alice' | 'bob') => (await app.inject({
    method: 'POST', url: '/auth/login', headers: anywhere(), payload: { username, password: PASSWORDS[username], captchaId: await captcha(), captcha: CAPTCHA_TEXT }
  })).json()
  const alice = await login('alice')
  const bob = await login('bob')
  const statuses = new Set<number>()
  for (let i = 0; i < 400; i++) statuses.add((await app.inject({ url: '/auth/captcha', headers: anywhere() })).statusCode)
  t.same([...statuses], [200])
  t.ok(await admin.zcard(`${prefix}{ephemeral}:expiries`) <= 50, 'the ephemeral index stayed bounded in Redis')
  t.equal((await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(alice.access_token) })).statusCode, 204)
  t.equal((await me(app, alice.access_token)).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', headers: anywhere(), payload: { refresh_token: bob.refresh_token } })).statusCode, 200)
  t.ok((await login('alice')).access_token, 'a captcha asked for after the flood still works')
})

t.test('an evicting maxmemory-policy is warned about at register', async (t) => {
  const evicting: RedisServer = await startRedis(['--maxmemory-policy', 'allkeys-lru'])
  t.teardown(() => evicting.stop())
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(line) } } } })
  const store = redisStore({ url: evicting.url })
  await app.register(jwtAuth, { secret: SECRET, store })
  t.teardown(async () => { await app.close(); await store.close() })
  t.ok(await eventually(() => lines.some((line) => line.includes('allkeys-lru')), 3000), 'a warning names the policy')
  const warning = JSON.parse(lines.find((line) => line.includes('allkeys-lru'))!)
  t.equal(warning.level, 40, 'at warn level')
  t.match(warning.msg, /noeviction/, 'and says what to run')
})

t.test('a subscription whose reconnection gives up is opened anew', async (t) => {
  // A client you pass keeps its own options: this one never reconnects, nor does the duplicate the store subscribes on.
  const client = new Redis(server.url, { retryStrategy: () => null })
  t.teardown(() => client.disconnect())
  const store = redisStore({ client, keyPrefix: `e${++prefixes}:` })
  t.teardown(() => store.close())
  t.ok(await eventually(() => store.mirrorSynced, 3000), 'in sync')
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  t.ok(await eventually(() => !store.mirrorSynced, 1000), 'the subscription is gone')
  t.ok(await eventually(() => store.mirrorSynced, 4000), 'a new one is in sync')
  const heard: Array<string | null> = []
  store.userInvalidations.listen((id) => heard.push(id))
  const other = redisStore({ url: server.url, keyPrefix: store.keyPrefix })
  t.teardown(() => other.close())
  await other.userInvalidations.publish('9')
  t.ok(await eventually(() => heard.includes('9'), 1000), 'and carries invalidations')
})

t.test('a closed store cannot be registered again; a failing invalidation listener does not silence the others', async (t) => {
  const store = redisStore({ url: server.url, keyPrefix: `e${++prefixes}:` })
  const heard: string[] = []
  store.userInvalidations.listen(() => { throw new Error('listener bug') })
  store.userInvalidations.listen((id) => { if (id !== null) heard.push(id) })
  await store.userInvalidations.publish('5')
  // At once from this instance (and, once subscribed, again through Redis: invalidations are idempotent).
  t.equal(heard[0], '5', 'the second listener heard it')
  await store.close()
  const app = Fastify()
  await t.rejects(async () => { await app.register(jwtAuth, { secret: SECRET, store }) }, /redisStore: this store is closed; make a new one/)
})

t.test('closed with the last app it serves, unless closeWithApp: false', async (t) => {
  const shared = redisStore({ url: server.url, keyPrefix: `e${++prefixes}:` })
  t.teardown(() => shared.close())
  t.ok(await eventually(() => shared.client.status === 'ready', 2000))
  const a = Fastify()
  await a.register(jwtAuth, { secret: SECRET, store: shared })
  const b = Fastify()
  await b.register(jwtAuth, { secret: SECRET, store: shared })
  await a.close()
  t.equal(shared.client.status, 'ready', 'still open for B')
  const pair = await b.jwtAuth.issue({ id: 1 })
  t.ok(pair.accessToken)
  await b.close()
  t.ok(await eventually(() => shared.client.status === 'end', 1000), 'closed with B')
  t.equal(shared.mirrorSynced, false, 'and its subscription')

  const kept = redisStore({ url: server.url, keyPrefix: `e${++prefixes}:`, closeWithApp: false })
  t.teardown(() => kept.close())
  t.ok(await eventually(() => kept.client.status === 'ready', 2000))
  const c = Fastify()
  await c.register(jwtAuth, { secret: SECRET, store: kept })
  await c.close()
  t.equal(kept.client.status, 'ready', 'closeWithApp: false: open after its app closed')
  const d = Fastify()
  await d.register(jwtAuth, { secret: SECRET, store: kept })
  t.ok((await d.jwtAuth.issue({ id: 2 })).accessToken, 'and serves another app')
  await d.close()
  await kept.close()
  await kept.close() // twice is harmless
  t.ok(await eventually(() => kept.client.status === 'end', 1000))
  t.throws(() => redisStore({ url: server.url, closeWithApp: 'no' as never }), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /redisStore: closeWithApp must be a boolean/ })

  const down = redisStore({ url: 'redis://127.0.0.1:1', keyPrefix: 'never:' })
  await down.close() // never connected: nothing to quit
  t.ok(await eventually(() => down.client.status === 'end', 1000), `ended (${down.client.status})`)
})
