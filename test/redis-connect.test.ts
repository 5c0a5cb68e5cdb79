// A wrong Redis address is not invisible: registering the plugin waits for the store's first connection (at most
// readyTimeout) and fails naming the address and the last connection error, never a user name or password; with
// startOffline it registers anyway, warns, answers 503 until Redis is there, then serves. Real redis-server
// processes (test/helpers/redis.ts), started late or never.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { Cluster, Redis } from 'ioredis'
import t, { type Test } from 'tap'
import jwtAuth from '../lib/index.js'
import { redisStore, type RedisStore } from '../lib/redis.js'
import { SECRET } from './helpers/app.js'
import { eventually } from './helpers/eventually.js'
import { freePort, RedisServer } from './helpers/redis.js'

const USER = 'alice-user'
const PASSWORD = 's3cret-pass'

/** A redis-server not started yet whose only user is USER with PASSWORD (ACL). */
async function serverWithCredentials (t: Test): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'jwt-auth-acl-'))
  const configFile = join(dir, 'redis.conf')
  writeFileSync(configFile, `user ${USER} on >${PASSWORD} ~* &* +@all\nuser default off\n`)
  const server = new RedisServer(await freePort(), [], configFile)
  t.teardown(async () => {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return server
}

/** What `register` rejected with (the test fails if it resolved), and after how long. */
async function registerError (app: FastifyInstance, store: RedisStore): Promise<{ error: Error & { code?: string }, ms: number }> {
  const started = performance.now()
  try {
    await app.register(jwtAuth, { secret: SECRET, store })
  } catch (error) {
    return { error: error as Error, ms: performance.now() - started }
  }
  throw new Error('register resolved')
}

interface Line { level: number, msg: string, redis?: string }

/** An app whose log is kept: its lines parsed, and as written. */
function loggedApp (): { app: FastifyInstance, lines: () => Line[], text: () => string } {
  const written: string[] = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { written.push(line) } } } })
  return { app, lines: () => written.map((line) => JSON.parse(line) as Line), text: () => written.join('') }
}

t.test('nothing listening: register rejects within readyTimeout, naming the address, never the credentials', async (t) => {
  const port = await freePort()
  const store = redisStore({ url: `redis://${USER}:${PASSWORD}@127.0.0.1:${port}`, readyTimeout: '300ms' })
  const app = Fastify()
  t.teardown(() => app.close())
  const { error, ms } = await registerError(app, store)
  t.equal(error.code, 'FST_JWT_AUTH_STORE_UNREACHABLE')
  t.equal(error.message, `fastify-jwt-auth: redisStore: Redis at 127.0.0.1:${port} is not reachable: not ready within 300 ms ` +
    `(last error: connect ECONNREFUSED 127.0.0.1:${port}); start it or correct the address, or set startOffline: true ` +
    'to register without it')
  t.notMatch(error.message, PASSWORD)
  t.notMatch(error.message, USER)
  t.notOk('cause' in error, 'no cause: a connection error may carry the AUTH command and its arguments')
  t.ok(ms >= 290 && ms < 2000, `rejected after ${Math.round(ms)} ms`)
  // The failed register leaves nothing open (shutdown.test.ts: the process exits by itself).
  let attempts = 0
  store.client.on('connecting', () => { attempts++ })
  await new Promise((resolve) => setTimeout(resolve, 600))
  t.equal(attempts, 0, 'the store closed its client: no more connection attempts')
  const again = Fastify()
  t.teardown(() => again.close())
  await t.rejects(async () => { await again.register(jwtAuth, { secret: SECRET, store }) }, {
    code: 'FST_JWT_AUTH_INVALID_OPTION', message: /this store is closed/
  }, 'and is closed')
})

t.test('the default readyTimeout ends before Fastify\'s default pluginTimeout, so the error is the store\'s', async (t) => {
  const port = await freePort()
  const store = redisStore({ url: `redis://127.0.0.1:${port}` })
  const app = Fastify() // pluginTimeout: 10 s
  t.teardown(() => app.close())
  const { error, ms } = await registerError(app, store)
  t.equal(error.code, 'FST_JWT_AUTH_STORE_UNREACHABLE', error.message)
  t.match(error.message, `Redis at 127.0.0.1:${port} is not reachable: not ready within 5000 ms`)
  t.ok(ms < 8000, `after ${Math.round(ms)} ms`)
})

t.test('a Redis that comes up during the wait: register succeeds, and the store serves', async (t) => {
  const server = new RedisServer(await freePort())
  t.teardown(() => server.stop())
  const store = redisStore({ url: server.url, readyTimeout: '10s' })
  const app = Fastify({ pluginTimeout: 20_000 })
  t.teardown(() => app.close())
  const started = performance.now()
  setTimeout(() => { server.start().catch(t.threw) }, 500)
  await app.register(jwtAuth, { secret: SECRET, store })
  t.ok(performance.now() - started >= 450, `register waited (${Math.round(performance.now() - started)} ms)`)
  t.equal(store.client.status, 'ready')
  t.ok((await app.jwtAuth.issue({ id: 1 })).accessToken)
})

t.test('startOffline: register goes on, a warning names the address, 503 until Redis is up, then it serves', async (t) => {
  const server = await serverWithCredentials(t)
  const { app, lines, text } = loggedApp()
  t.teardown(() => app.close())
  const store = redisStore({
    url: `redis://${USER}:${PASSWORD}@127.0.0.1:${server.port}`, startOffline: true, readyTimeout: '1s'
  })
  const started = performance.now()
  await app.register(jwtAuth, { secret: SECRET, store })
  t.ok(performance.now() - started < 900, `register did not wait (${Math.round(performance.now() - started)} ms)`)
  app.get('/issue', async () => app.jwtAuth.issue({ id: 1 }))
  await app.ready()

  t.ok(await eventually(() => lines().some(({ level }) => level === 40), 3000), 'a warning, once readyTimeout has passed')
  const warning = lines().find(({ level }) => level === 40)!
  t.equal(warning.redis, `127.0.0.1:${server.port}`)
  t.equal(warning.msg, `fastify-jwt-auth: Redis at 127.0.0.1:${server.port} is not reachable: not ready within 1000 ms ` +
    `(last error: connect ECONNREFUSED 127.0.0.1:${server.port}); started without it (startOffline): requests that ` +
    'need the store answer 503 until it is')
  const down = await app.inject({ url: '/issue' })
  t.equal(down.statusCode, 503)
  t.equal(down.json().code, 'FST_JWT_AUTH_STORE_UNAVAILABLE')

  await server.start()
  t.ok(await eventually(async () => (await app.inject({ url: '/issue' })).statusCode === 200, 5000), 'serves once Redis is up')
  t.ok(await eventually(() => lines().some(({ level, msg }) => level === 30 && /is reachable/.test(msg)), 1000))
  t.match(lines().find(({ msg }) => /is reachable/.test(msg)), { redis: `127.0.0.1:${server.port}` })
  t.notMatch(text(), PASSWORD, 'the password is nowhere in the log')
  t.notMatch(text(), USER, 'nor the user name')
})

t.test('startOffline with Redis there: no warning; closing before readyTimeout: none either', async (t) => {
  const server = await serverWithCredentials(t)
  await server.start()
  const url = `redis://${USER}:${PASSWORD}@127.0.0.1:${server.port}`
  const up = loggedApp()
  await up.app.register(jwtAuth, { secret: SECRET, store: redisStore({ url, startOffline: true, readyTimeout: '300ms' }) })
  await new Promise((resolve) => setTimeout(resolve, 500))
  await up.app.close()
  t.same(up.lines().filter(({ level }) => level >= 40), [], 'no warning')

  const port = await freePort()
  const gone = loggedApp()
  const store = redisStore({ url: `redis://127.0.0.1:${port}`, startOffline: true, readyTimeout: '300ms' })
  await gone.app.register(jwtAuth, { secret: SECRET, store })
  await gone.app.close()
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.same(gone.lines().filter(({ level }) => level >= 40), [], 'closed before readyTimeout: nothing to warn about')
  t.equal(store.client.status, 'end')
})

t.test('a client you pass that is not ready: register waits for it, and a failure leaves it to you', async (t) => {
  const port = await freePort()
  // lazyConnect: connected by the wait, its first need.
  const lazy = new Redis(`redis://${USER}:${PASSWORD}@127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => 50 })
  lazy.on('error', () => {})
  t.teardown(() => lazy.disconnect())
  const app = Fastify()
  t.teardown(() => app.close())
  const { error } = await registerError(app, redisStore({ client: lazy, readyTimeout: '300ms' }))
  t.equal(error.code, 'FST_JWT_AUTH_STORE_UNREACHABLE')
  t.match(error.message, `Redis at 127.0.0.1:${port} is not reachable: not ready within 300 ms (last error: connect ECONNREFUSED`)
  t.notMatch(error.message, PASSWORD)
  t.not(lazy.status, 'end', 'your client is not closed by the store')
  t.not(lazy.status, 'wait', 'it was asked to connect')

  // A client that gives up (its retryStrategy says so): the wait ends with it, well before readyTimeout.
  const once = new Redis(`redis://127.0.0.1:${port}`, { retryStrategy: () => null })
  once.on('error', () => {})
  const other = Fastify()
  t.teardown(() => other.close())
  const ended = await registerError(other, redisStore({ client: once, readyTimeout: '10s' }))
  t.match(ended.error.message, /is not reachable: its connection ended \(last error: connect ECONNREFUSED/)
  t.ok(ended.ms < 5000, `after ${Math.round(ended.ms)} ms`)

  const server = new RedisServer(port)
  t.teardown(() => server.stop())
  const late = new Redis(`redis://127.0.0.1:${port}`, { retryStrategy: () => 50 })
  late.on('error', () => {})
  // disconnect, not quit: a QUIT can reject under load ("Connection is closed."), and a teardown that throws skips
  // the ones registered before it (the server's stop among them).
  t.teardown(() => late.disconnect())
  const third = Fastify({ pluginTimeout: 20_000 })
  t.teardown(() => third.close())
  setTimeout(() => { server.start().catch(t.threw) }, 300)
  await third.register(jwtAuth, { secret: SECRET, store: redisStore({ client: late, readyTimeout: '10s' }) })
  t.equal(late.status, 'ready', 'register resolved once your client was ready')
})

t.test('Sentinel and Cluster: the message names the Sentinels and the master, or the seed nodes', async (t) => {
  const [sentinel, seedA, seedB] = await Promise.all([freePort(), freePort(), freePort()])
  const viaSentinel = redisStore({
    redisOptions: {
      sentinels: [{ host: '127.0.0.1', port: sentinel }, { host: '127.0.0.1' }],
      name: 'mymaster',
      password: PASSWORD,
      sentinelPassword: PASSWORD
    },
    readyTimeout: '300ms'
  })
  const a = Fastify()
  t.teardown(() => a.close())
  const { error: sentinelError } = await registerError(a, viaSentinel)
  t.equal(sentinelError.code, 'FST_JWT_AUTH_STORE_UNREACHABLE')
  t.match(sentinelError.message,
    `Redis at the master 'mymaster' of the Sentinels 127.0.0.1:${sentinel}, 127.0.0.1:26379 is not reachable`)
  t.notMatch(sentinelError.message, PASSWORD)

  const cluster = redisStore({
    cluster: { nodes: [{ host: '127.0.0.1', port: seedA }, `127.0.0.1:${seedB}`], options: { redisOptions: { password: PASSWORD } } },
    readyTimeout: '300ms'
  })
  const b = Fastify()
  t.teardown(() => b.close())
  const { error: clusterError } = await registerError(b, cluster)
  t.match(clusterError.message,
    `Redis at the Cluster of the seed nodes 127.0.0.1:${seedA}, 127.0.0.1:${seedB} is not reachable: not ready within 300 ms`)
  t.notMatch(clusterError.message, PASSWORD)

  // A Cluster of yours: its seed nodes (a field ioredis does not make public; without it, no address).
  const yours = new Cluster([{ host: '127.0.0.1', port: seedA }], { lazyConnect: true })
  yours.on('error', () => {})
  t.teardown(() => yours.disconnect())
  const c = Fastify()
  t.teardown(() => c.close())
  const { error: yoursError } = await registerError(c, redisStore({ client: yours, readyTimeout: '200ms' }))
  t.match(yoursError.message, `Redis at the Cluster of the seed nodes 127.0.0.1:${seedA} is not reachable`)
  const unnamed = new Cluster([{ host: '127.0.0.1', port: seedB }], { lazyConnect: true })
  unnamed.on('error', () => {})
  t.teardown(() => unnamed.disconnect())
  Reflect.deleteProperty(unnamed, 'startupNodes')
  const d = Fastify()
  t.teardown(() => d.close())
  const { error: unnamedError } = await registerError(d, redisStore({ client: unnamed, readyTimeout: '100ms' }))
  t.match(unnamedError.message, 'Redis at a Cluster is not reachable')
})

t.test('a Unix socket: the message names it', async (t) => {
  const path = join(tmpdir(), `jwt-auth-no-redis-${process.pid}.sock`)
  const app = Fastify()
  t.teardown(() => app.close())
  const { error } = await registerError(app, redisStore({ redisOptions: { path }, readyTimeout: '200ms' }))
  t.match(error.message, `Redis at the socket ${path} is not reachable: not ready within 200 ms (last error: connect ENOENT`)
})

t.test('closing the store during the wait ends it at once', async (t) => {
  const store = redisStore({ url: `redis://127.0.0.1:${await freePort()}`, readyTimeout: '10s' })
  const app = Fastify({ pluginTimeout: 20_000 })
  t.teardown(() => app.close())
  setTimeout(() => { store.close().catch(t.threw) }, 200)
  const { error, ms } = await registerError(app, store)
  t.match(error.message, /is not reachable: the store was closed/)
  t.ok(ms < 3000, `after ${Math.round(ms)} ms`)
})

t.test('url: redis:// or rediss:// only, refused at redisStore() naming url, without repeating it', async (t) => {
  const invalid = { code: 'FST_JWT_AUTH_INVALID_OPTION' }
  t.throws(() => redisStore({ url: 'http://127.0.0.1:6379' }),
    { ...invalid, message: 'fastify-jwt-auth: redisStore: url must be a redis:// or rediss:// URL (got an http:// URL)' })
  t.throws(() => redisStore({ url: `https://${USER}:${PASSWORD}@cache.example` }), { ...invalid, message: /got an https:\/\/ URL\)$/ })
  // Without a scheme, the user name is taken for one: it is not repeated either.
  t.throws(() => redisStore({ url: `${USER}:${PASSWORD}@127.0.0.1:6379` }), { ...invalid, message: /\(got a URL of another scheme\)$/ })
  t.throws(() => redisStore({ url: `//${USER}:${PASSWORD}@127.0.0.1` }),
    { ...invalid, message: /redisStore: url must be a redis:\/\/ or rediss:\/\/ URL \(got a string that does not parse as a URL\)$/ })
  t.throws(() => redisStore({ url: 6379 as never }), { ...invalid, message: /url must be a redis:\/\/ or rediss:\/\/ URL \(got number\)/ })
  // An empty host (redis://${HOST} with HOST unset, say) would mean localhost: refused, as a mistake most likely.
  t.throws(() => redisStore({ url: 'redis:///0' }), { ...invalid, message: /url must name a host \(redis:\/\/host:port\)$/ })
  t.throws(() => redisStore({ url: 'redis://' }), { ...invalid, message: /url must name a host/ })
})

t.test('readyTimeout, startOffline and the connection options are checked at redisStore()', async (t) => {
  const url = 'redis://127.0.0.1:1'
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ url, readyTimeout: 'soon' }, /redisStore: readyTimeout must be a duration/],
    [{ url, readyTimeout: 0 }, /redisStore: readyTimeout must be a duration/],
    [{ url, readyTimeout: 5000 }, /redisStore: readyTimeout must be at most 300s \(got 5000\)/],
    [{ url, readyTimeout: '0.1ms' }, /redisStore: readyTimeout must be at least 1ms/],
    [{ url, startOffline: 'yes' }, /redisStore: startOffline must be a boolean/],
    [{ url, readyTimout: '1s' }, /redisStore: unknown option readyTimout \(did you mean readyTimeout\?\)/],
    [{ client: {} }, /redisStore: client must be an ioredis client \(Redis or Cluster\), for example app.redis/],
    [{ client: null }, /redisStore: client must be an ioredis client/],
    [{ redisOptions: 'redis://127.0.0.1' }, /redisStore: redisOptions must be an object/],
    [{ cluster: [] }, /redisStore: cluster must be \{ nodes, options \}/],
    [{ cluster: { node: [] } }, /redisStore: unknown option cluster.node \(did you mean cluster.nodes\?\)/],
    [{ cluster: { nodes: [] } }, /redisStore: cluster.nodes must be a non-empty array/],
    [{ cluster: { nodes: [7000], options: 'fast' } }, /redisStore: cluster.options must be an object/]
  ]
  for (const [options, message] of cases) {
    t.throws(() => redisStore(options as never), { code: 'FST_JWT_AUTH_INVALID_OPTION', message }, JSON.stringify(options))
  }
})
