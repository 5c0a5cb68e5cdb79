import fastifyRedis from '@fastify/redis'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import t from 'tap'
import jwtAuth from '../lib/index.js'
import { redisStore } from '../lib/stores/redis.js'
import { bearer, buildApp, decodePart, SECRET } from './helpers/app.js'
import { eventually } from './helpers/eventually.js'
import { sharedRedis } from './helpers/redis.js'
import { CAPTCHA_TEXT, fixedCaptcha, PASSWORDS, seedUsers } from './helpers/routes-app.js'

const server = await sharedRedis()
const admin = new Redis(server.url)
t.teardown(() => admin.disconnect())
let prefixes = 0
const freshPrefix = (): string => `rs${++prefixes}:`

t.test('every port writes under the key prefix, each with its TTL (fractional seconds kept as milliseconds)', async (t) => {
  const store = redisStore({ url: server.url, keyPrefix: 'ops:' })
  t.teardown(() => store.close())
  await store.locks.lock('a', 1234, 60)
  t.equal(await admin.get('ops:lk:a'), '1234', 'stored under the prefix')
  const ttl = await admin.pttl('ops:lk:a')
  t.ok(ttl > 59_000 && ttl <= 60_000, `PTTL ${ttl} ms`)
  t.equal(await store.locks.lockedUntil('a'), 1234)
  t.equal(await store.locks.lockedUntil('missing'), null)
  await store.refreshTokens.create('fam', 'jti', 'record', 0.25)
  const short = await admin.pttl('ops:rt:{fam}:jti')
  t.ok(short > 0 && short <= 250, `fractional seconds are kept as milliseconds (PTTL ${short} ms)`)
  await store.sessions.put('u', 'fam', 'session', 30)
  t.ok(await admin.pttl('ops:ses:u') <= 30_000)
  await store.challenges.put('c', 'v', 30)
  t.equal(await store.challenges.take('c'), 'v')
  t.equal(await store.challenges.take('c'), null)
  t.equal(await store.counters.increment('n', 30), 1)
  t.equal(await store.counters.increment('n', 30), 2)
  t.ok(await admin.pttl('ops:{counters}:values') <= 30_000)
  const keys = ['ops:lk:a', 'ops:rt:{fam}:jti', 'ops:ses:u', 'ops:{counters}:expiries', 'ops:{counters}:values']
  t.same((await admin.keys('ops:*')).sort(), keys, 'every key under the prefix')
  await t.rejects(store.locks.lock('x', 1, 0), /ttlSeconds must be a positive number/)
  await t.rejects(store.counters.increment('x', -1), /ttlSeconds/)
  await t.rejects(store.challenges.put('x', 'v', Number.NaN), TypeError)
})

t.test('a refresh token without a record: its family\'s generation comes with the answer, read in the same script', async (t) => {
  const store = redisStore({ url: server.url, keyPrefix: freshPrefix() })
  t.teardown(() => store.close())
  const tokens = store.refreshTokens
  t.same(await tokens.find('f', 'none'), { state: 'absent', generation: 0 }, 'a family never rotated: 0')
  await tokens.create('f', 'a', 'record', 60)
  await tokens.rotate({
    family: 'f', jti: 'a', next: { jti: 'b', record: 'r' }, successor: 's', ttlSeconds: 60, graceSeconds: 0, generation: 4
  })
  // One script, not a GET then another: on a Cluster whose slot map changes between two commands (a failover),
  // the record and the generation could come from different nodes, and a lost record look like a reuse.
  t.same(await tokens.find('f', 'a'), { state: 'absent', generation: 4 }, 'find of the spent and forgotten token')
  const rotation = { family: 'f', jti: 'a', next: { jti: 'c', record: 'r' }, successor: 's', ttlSeconds: 60, graceSeconds: 0, generation: 5 }
  t.same(await tokens.rotate(rotation), { state: 'absent', generation: 4 }, 'rotate of it: the same, nothing written')
  t.same(await tokens.find('f', 'b'), { state: 'live', record: 'r' })
})

t.test('take is atomic across clients: of concurrent takes exactly one sees the value', async (t) => {
  const stores = Array.from({ length: 4 }, () => redisStore({ url: server.url, keyPrefix: 'race:' }))
  t.teardown(() => Promise.all(stores.map((store) => store.close())))
  await stores[0]!.challenges.put('k', 'v', 60)
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % 4]!.challenges.take('k')))
  t.equal(results.filter((value) => value === 'v').length, 1)
  const counts = await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % 4]!.counters.increment('c', 60)))
  t.same([...counts].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1), 'increments never collide')
})

t.test('options: exactly one connection source', async (t) => {
  t.throws(() => redisStore({}), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /give exactly one of client, url, redisOptions or cluster \(got none\)/ })
  t.throws(() => redisStore({ url: server.url, client: admin }), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /\(got client, url\)/ })
  t.throws(() => redisStore(null as never), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /options must be an object/ })
  t.throws(() => redisStore({ client: admin, keyPrefix: 5 as never }), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /keyPrefix must be a string/ })
  t.throws(() => redisStore({ client: admin, maxEphemeral: -1 }),
    { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /redisStore: maxEphemeral must be a positive integer \(got -1\)/ })
  const fromOptions = redisStore({ redisOptions: { host: '127.0.0.1', port: server.port }, keyPrefix: 'opt:' })
  await fromOptions.locks.lock('x', 7, 5)
  t.equal(await admin.get('opt:lk:x'), '7', 'redisOptions open a client')
  await fromOptions.close()
  await t.rejects(fromOptions.client.get('x'), /Connection is closed/, 'and the store closes what it opened')
})

t.test('a client you pass is used as is and never closed by the store; the subscription is closed', async (t) => {
  const client = new Redis(server.url)
  t.teardown(() => client.disconnect())
  const store = redisStore({ client, keyPrefix: 'own:' })
  await store.locks.lock('own', 1, 5)
  t.equal(await admin.get('own:lk:own'), '1')
  const subscribed = async (): Promise<number> =>
    Number((await admin.call('PUBSUB', 'NUMSUB', 'own:revocations') as [string, number])[1])
  t.ok(await eventually(async () => await subscribed() === 1, 2000), 'the store subscribed on a connection of its own')
  await store.close()
  t.equal(client.status, 'ready')
  t.ok(await eventually(async () => await subscribed() === 0, 1000), 'its subscription ended with it')
  const defaults = redisStore({ client, mirror: false })
  await defaults.locks.lock('own', 2, 5)
  t.equal(await admin.get('jwt-auth:lk:own'), '2', 'default prefix jwt-auth:')
  await defaults.close()
})

t.test('with @fastify/redis: redisStore({ client: app.redis })', async (t) => {
  const app = Fastify()
  await app.register(fastifyRedis, { url: server.url })
  await app.register(jwtAuth, { secret: SECRET, store: redisStore({ client: app.redis, keyPrefix: freshPrefix() }) })
  app.get('/me', { onRequest: app.authenticate }, async (request) => request.auth?.claims.sub)
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).body, '1')
  await app.jwtAuth.store.close?.()
  t.equal(await app.redis.ping(), 'PONG', 'closing the store leaves the @fastify/redis client open')
  await app.close()
})

t.test('two instances on one Redis see each other\'s tokens at once and revocations within 50 ms', async (t) => {
  const prefix = freshPrefix()
  // Strict rotation: a spent token presented again is a reuse at once (no grace to replay within).
  const [a, b] = await Promise.all([0, 1].map(async () => {
    const app = await buildApp(redisStore({ url: server.url, keyPrefix: prefix }), { options: { refreshGrace: 0 } })
    t.teardown(async () => { await app.close(); await app.jwtAuth.store.close?.() })
    return app
  })) as [Awaited<ReturnType<typeof buildApp>>, Awaited<ReturnType<typeof buildApp>>]
  const me = async (app: typeof a, token: string) => (await app.inject({ url: '/me', headers: bearer(token) })).statusCode

  const login = await a.jwtAuth.issue({ id: 1 })
  t.equal(await me(b, login.accessToken), 200, 'issued on A, accepted on B')
  const rotated = await b.jwtAuth.refresh(login.refreshToken)
  t.equal(await me(a, rotated.accessToken), 200, 'refreshed on B, accepted on A')

  await b.jwtAuth.revoke(rotated.accessToken)
  t.ok(await eventually(async () => await me(a, rotated.accessToken) === 401, 50), 'revoked on B, refused on A within 50 ms')
  await t.rejects(a.jwtAuth.refresh(rotated.refreshToken), { code: 'FST_JWT_AUTH_TOKEN_REVOKED' })

  const second = await a.jwtAuth.issue({ id: 2 })
  await b.jwtAuth.revokeAll(2)
  t.ok(await eventually(async () => await me(a, second.accessToken) === 401, 50), 'revokeAll on B, refused on A within 50 ms')
  t.equal(await me(a, (await b.jwtAuth.issue({ id: 2 })).accessToken), 200, 'a new token works everywhere')

  const third = await a.jwtAuth.issue({ id: 1 })
  const next = await a.jwtAuth.refresh(third.refreshToken)
  await t.rejects(b.jwtAuth.refresh(third.refreshToken), { code: 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED' }, 'reuse seen on B')
  t.ok(await eventually(async () => await me(a, next.accessToken) === 401, 50), 'and the family is revoked on A within 50 ms')
})

t.test('the concurrent refresh race across instances: exactly one wins, the reuse is detected (strict rotation)', async (t) => {
  const prefix = freshPrefix()
  const apps = await Promise.all([0, 1, 2].map(async () => {
    const app = await buildApp(redisStore({ url: server.url, keyPrefix: prefix }), { options: { refreshGrace: 0 } })
    t.teardown(async () => { await app.close(); await app.jwtAuth.store.close?.() })
    return app
  }))
  for (let round = 0; round < 5; round++) {
    const login = await apps[0]!.jwtAuth.issue({ id: 1 })
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => apps[i % 3]!.jwtAuth.refresh(login.refreshToken)))
    const winners = results.filter((result) => result.status === 'fulfilled')
    t.equal(winners.length, 1, `round ${round}: one winner of 12`)
    const codes = new Set(results.flatMap((result) => result.status === 'rejected' ? [(result.reason as { code: string }).code] : []))
    t.ok([...codes].every((code) => code === 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED' || code === 'FST_JWT_AUTH_TOKEN_REVOKED'), [...codes].join())
    t.ok(codes.has('FST_JWT_AUTH_REFRESH_TOKEN_REUSED'), 'the reuse was detected')
  }
})

t.test('the concurrent refresh race within the grace: one rotation, every instance hands out its successor', async (t) => {
  const prefix = freshPrefix()
  const apps = await Promise.all([0, 1, 2].map(async () => {
    const app = await buildApp(redisStore({ url: server.url, keyPrefix: prefix }))
    t.teardown(async () => { await app.close(); await app.jwtAuth.store.close?.() })
    return app
  }))
  for (let round = 0; round < 3; round++) {
    const login = await apps[0]!.jwtAuth.issue({ id: 1 })
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => apps[i % 3]!.jwtAuth.refresh(login.refreshToken)))
    const successors = new Set(results.map((pair) => decodePart(pair.refreshToken, 1).jti))
    t.equal(successors.size, 1, `round ${round}: 12 refreshes on 3 instances, one successor`)
    t.not([...successors][0], decodePart(login.refreshToken, 1).jti)
    const next = await apps[1]!.jwtAuth.refresh(results[0]!.refreshToken)
    await t.rejects(apps[2]!.jwtAuth.refresh(login.refreshToken), { code: 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED' },
      'once the successor was used, the spent token is a reuse')
    // Revoked on the instance that saw the reuse at once; on the others through the mirror, within 50 ms.
    t.equal((await apps[2]!.inject({ url: '/me', headers: bearer(next.accessToken) })).statusCode, 401, 'and the family is revoked')
    t.ok(await eventually(async () => (await apps[0]!.inject({ url: '/me', headers: bearer(next.accessToken) })).statusCode === 401, 50, 1),
      'everywhere, within 50 ms')
  }
})

t.test('every key has a TTL no longer than the token it guards', async (t) => {
  const prefix = freshPrefix()
  const users = await seedUsers()
  const Fastify5 = Fastify()
  await Fastify5.register(jwtAuth, {
    secret: SECRET,
    accessTokenTtl: '5m',
    refreshTokenTtl: '1h',
    store: redisStore({ url: server.url, keyPrefix: prefix }),
    routes: { captcha: fixedCaptcha, lockout: { maxFailures: 5, window: '10m', duration: '10m' } },
    users: { findByLogin: async (login) => users.find((user) => user.username === login) ?? null }
  })
  const app = Fastify5
  t.teardown(async () => { await app.close(); await app.jwtAuth.store.close?.() })
  const captchaId = (await app.inject({ url: '/auth/captcha' })).json().captchaId
  await app.inject({ url: '/auth/captcha' }) // an unanswered one stays until its TTL
  const login = (await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'alice', password: PASSWORDS.alice, captchaId, captcha: CAPTCHA_TEXT } })).json()
  await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'bob', password: 'wrong', captchaId: (await app.inject({ url: '/auth/captcha' })).json().captchaId, captcha: CAPTCHA_TEXT } })
  const rotated = (await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: login.refresh_token } })).json()
  await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(rotated.access_token) })
  await app.jwtAuth.revokeAll(2)

  const keys = await admin.keys(`${prefix}*`)
  // Revocation markers are fields of one index (a hash and a sorted set of expiries) that lives as long as its newest
  // marker; captchas and failure counters are fields of their bounded indexes (the longest: the lockout window).
  const limits: Record<string, number> = { 'rt:': 3600, 'rg:': 3600, 'ses:': 3600, '{revocations}:': 3600, '{ephemeral}:': 600, '{counters}:': 900, 'lk:': 600, 'rl:': 60 }
  const kinds = new Set<string>()
  for (const key of keys) {
    const kind = Object.keys(limits).find((candidate) => key.startsWith(prefix + candidate))
    t.ok(kind, `${key} is a known kind of key`)
    kinds.add(kind!)
    const ttl = await admin.pttl(key)
    t.ok(ttl > 0 && ttl <= (limits[kind!]! + 2) * 1000, `${key}: PTTL ${ttl} ms within ${limits[kind!]} s`)
  }
  for (const kind of ['rl:', 'rt:', 'rg:', '{ephemeral}:', '{counters}:', '{revocations}:']) t.ok(kinds.has(kind), `a ${kind} key was checked`)
  const challenges = await admin.hkeys(`${prefix}{ephemeral}:values`)
  const counters = await admin.hkeys(`${prefix}{counters}:values`)
  t.ok(challenges.some((field) => field.startsWith('h:')) && counters.some((field) => field.startsWith('c:')),
    `the captcha left unanswered and the failure counter are in their indexes (${challenges.join(', ')}; ${counters.join(', ')})`)
  const markers = await admin.hgetall(`${prefix}{revocations}:values`)
  t.same(Object.keys(markers).map((field) => field.slice(0, 4)).sort(), ['fam:', 'usr:'], 'a revoked family and a user epoch')
  for (const [field, entry] of Object.entries(markers)) {
    const left = Number(entry.split(' ')[0]) - Date.now()
    t.ok(left > 0 && left <= 3602_000, `${field} expires in ${left} ms, within 3600 s`)
    t.equal(await admin.zscore(`${prefix}{revocations}:expiries`, field), entry.split(' ')[0], 'its expiry is indexed')
  }
  t.equal(decodePart(rotated.access_token, 1).sub, '1')
})

t.test('rate limits hold across instances sharing the Redis store', async (t) => {
  const prefix = freshPrefix()
  const users = await seedUsers()
  const [a, b] = await Promise.all([0, 1].map(async () => {
    const app = Fastify()
    await app.register(jwtAuth, {
      secret: SECRET,
      store: redisStore({ url: server.url, keyPrefix: prefix }),
      routes: { captcha: false },
      rateLimit: { session: { max: 3, timeWindow: '1 minute' } },
      users: { findByLogin: async (login) => users.find((user) => user.username === login) ?? null }
    })
    t.teardown(async () => { await app.close(); await app.jwtAuth.store.close?.() })
    return app
  })) as [ReturnType<typeof Fastify>, ReturnType<typeof Fastify>]
  const statuses = []
  for (const app of [a, b, a, b]) {
    statuses.push((await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: 'x' } })).statusCode)
  }
  t.same(statuses, [401, 401, 401, 429], 'the fourth request is limited, whichever instance it reaches')
  t.ok((await admin.keys(`${prefix}rl:session:*`)).length > 0, 'the counters are in the shared Redis, under their class')
})

t.test('a rate-limit backend of the app\'s own: its Redis under a name space per class, or its store', async (t) => {
  const users = await seedUsers()
  const own = new Redis(server.url)
  t.teardown(() => own.disconnect())
  const nameSpace = `${freshPrefix()}app-rl:`
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET,
    routes: { captcha: false },
    rateLimit: { redis: own, nameSpace, session: { max: 1 } },
    users: { findByLogin: async (login) => users.find((user) => user.username === login) ?? null }
  })
  t.teardown(() => app.close())
  const refresh = () => app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: 'x' } })
  t.same([(await refresh()).statusCode, (await refresh()).statusCode], [401, 429])
  t.equal((await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'x', password: 'wrong-password' } })).statusCode, 401)
  t.equal((await admin.keys(`${nameSpace}session:*`)).length, 1)
  t.equal((await admin.keys(`${nameSpace}credentials:*`)).length, 1, 'each class counts apart')

  const defaultSpace = Fastify()
  await defaultSpace.register(jwtAuth, {
    secret: SECRET,
    routes: { captcha: false },
    rateLimit: { redis: own },
    users: { findByLogin: async () => null }
  })
  t.teardown(() => defaultSpace.close())
  await defaultSpace.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: 'x' } })
  t.ok((await admin.keys('fastify-rate-limit-session:*')).length > 0, '@fastify/rate-limit\'s own name space, per class')
  await admin.del(await admin.keys('fastify-rate-limit-*'))

  const counted: string[] = []
  class CountingStore {
    incr (key: string, callback: (error: Error | null, result: { current: number, ttl: number }) => void) {
      counted.push(key)
      callback(null, { current: 1, ttl: 60_000 })
    }

    child () { return this }
  }
  const custom = Fastify()
  await custom.register(jwtAuth, {
    secret: SECRET,
    store: redisStore({ url: server.url, keyPrefix: freshPrefix() }),
    routes: { captcha: false },
    rateLimit: { store: CountingStore as never },
    users: { findByLogin: async () => null }
  })
  t.teardown(async () => { await custom.close(); await custom.jwtAuth.store.close?.() })
  t.equal((await custom.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: 'x' } })).statusCode, 401)
  t.same(counted, ['127.0.0.1'], 'the app\'s store counts, not the auth store\'s Redis')
})

t.test('sessions and logout-everywhere never scan the keyspace (per-user index)', async (t) => {
  const server = await (await import('./helpers/redis.js')).startRedis()
  t.teardown(() => server.stop())
  const stats = new Redis(server.url)
  t.teardown(() => stats.disconnect())
  const app = await buildApp(redisStore({ url: server.url }))
  t.teardown(async () => { await app.close(); await app.jwtAuth.store.close?.() })
  for (let i = 0; i < 20; i++) await app.jwtAuth.issue({ id: i % 3 + 1 })
  await stats.config('RESETSTAT')
  t.equal((await app.jwtAuth.sessions(1)).length, 7)
  const [first] = await app.jwtAuth.sessions(2)
  t.equal(await app.jwtAuth.revokeSession(2, first!.familyId), true)
  await app.jwtAuth.revokeAll(1)
  t.same(await app.jwtAuth.sessions(1), [])
  const commands = (await stats.info('commandstats')).split('\n').filter((line) => line.startsWith('cmdstat_')).map((line) => line.slice(8, line.indexOf(':')))
  t.ok(commands.includes('hgetall'), `commands used: ${commands.join(', ')}`)
  for (const scanning of ['scan', 'keys', 'hscan', 'sscan']) t.notOk(commands.includes(scanning), `no ${scanning}`)
})
