// Living beside @fastify/jwt (the README's recipe, with the real plugin and the tokens it mints) and
// @fastify/redis (its client as the store's, and how the two close).
import { createRequire } from 'node:module'
import { dirname, join, sep } from 'node:path'
import fastifyJwt from '@fastify/jwt'
import fastifyRedis from '@fastify/redis'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import t from 'tap'
import jwtAuth from '../lib/index.js'
import { FAIL_FAST_OPTIONS, redisStore } from '../lib/redis.js'
import { bearer, SECRET, USERS } from './helpers/app.js'
import { eventually } from './helpers/eventually.js'
import { sharedRedis } from './helpers/redis.js'

// As the README's recipe declares it for TypeScript: @fastify/jwt's payload under the decoratorName given.
declare module 'fastify' {
  interface FastifyRequest { jwtUser: unknown }
}

const OLD_SECRET = 'the-secret-of-the-old-fastify-jwt-set-up'
const findById = async (id: string) => USERS.find((user) => String(user.id) === id) ?? null

t.test('@fastify/jwt on request.user first: a clear register error naming decoratorName', async (t) => {
  const app = Fastify()
  await app.register(fastifyJwt, { secret: OLD_SECRET })
  await t.rejects(async () => { await app.register(jwtAuth, { secret: SECRET }) }, {
    code: 'FST_JWT_AUTH_INVALID_OPTION',
    message: /request\.user is already decorated \(by @fastify\/jwt\?\): register @fastify\/jwt first with decoratorName: 'jwtUser'/
  })
  await app.close()
})

t.test('the recipe: @fastify/jwt with decoratorName: \'jwtUser\', then the plugin with legacy', async (t) => {
  const app = Fastify()
  await app.register(fastifyJwt, { secret: OLD_SECRET, decoratorName: 'jwtUser' })
  await app.register(jwtAuth, {
    secret: SECRET,
    users: { findById },
    legacy: { secret: OLD_SECRET, algorithms: ['HS256'], until: '2099-01-01T00:00:00Z' }
  })
  // Routes not yet moved: @fastify/jwt as before, its payload on request.jwtUser.
  app.get('/old', { onRequest: async (request) => { await request.jwtVerify() } }, async (request) => ({ old: request.jwtUser }))
  // Moved routes: the plugin, which also takes @fastify/jwt's tokens until `until`.
  app.get('/new', { onRequest: app.authenticate }, async (request) => ({ user: request.user, issuer: request.auth!.issuer ?? null }))
  await app.ready()
  t.teardown(() => app.close())

  const oldToken = app.jwt.sign({ sub: '1' }, { expiresIn: '15m' })
  const old = await app.inject({ url: '/old', headers: bearer(oldToken) })
  t.equal(old.statusCode, 200)
  t.match(old.json().old, { sub: '1' })
  t.same((await app.inject({ url: '/new', headers: bearer(oldToken) })).json(), { user: USERS[0], issuer: 'legacy' })

  const { accessToken } = await app.jwtAuth.issue({ id: 2 })
  t.same((await app.inject({ url: '/new', headers: bearer(accessToken) })).json(), { user: USERS[1], issuer: null })
  t.equal((await app.inject({ url: '/old', headers: bearer(accessToken) })).statusCode, 401, 'another secret: old routes refuse the new tokens')
})

t.test('either order works once @fastify/jwt has its own decoratorName', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET })
  await app.register(fastifyJwt, { secret: OLD_SECRET, decoratorName: 'jwtUser' })
  app.get('/both', async (request) => ({ user: request.user, jwtUser: request.jwtUser }))
  await app.ready()
  t.teardown(() => app.close())
  t.same((await app.inject({ url: '/both' })).json(), { user: null, jwtUser: null })
})

t.test('@fastify/redis: redisStore({ client: app.redis }) lives and closes with it', async (t) => {
  const server = await sharedRedis()
  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  const subscribers = async (): Promise<number> =>
    Number((await admin.call('PUBSUB', 'NUMSUB', 'fastify-redis:revocations') as [string, number])[1])

  // As in the README: @fastify/redis first, failing fast as the store's own clients do, then its client to the store.
  const app = Fastify()
  await app.register(fastifyRedis, { url: server.url, ...FAIL_FAST_OPTIONS })
  const store = redisStore({ client: app.redis, keyPrefix: 'fastify-redis:' })
  await app.register(jwtAuth, { secret: SECRET, store })
  app.get('/me', { onRequest: app.authenticate }, async (request) => request.auth!.claims.sub)
  await app.ready()
  t.ok(await eventually(() => store.mirrorSynced, 2000), 'the mirror syncs on its own connection')
  t.equal(await subscribers(), 1)
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).body, '1')

  // onClose hooks run in reverse order of registration: the store's subscription ends first, then
  // @fastify/redis quits its client.
  await app.close()
  t.ok(await eventually(() => app.redis.status === 'end', 1000), '@fastify/redis quit its client when the app closed')
  t.ok(await eventually(async () => await subscribers() === 0, 1000), 'and the store closed its subscription with it')

  const given = new Redis(server.url)
  const kept = Fastify()
  await kept.register(fastifyRedis, { client: given })
  await kept.register(jwtAuth, { secret: SECRET, store: redisStore({ client: kept.redis, keyPrefix: 'fastify-redis-kept:' }) })
  await kept.close()
  t.equal(given.status, 'ready', '@fastify/redis with a client of yours (no closeClient) leaves it open')
  await given.quit()
})

t.test('a client of another copy of ioredis (nested under @fastify/redis, say) is a Redis, not taken for a Cluster', async (t) => {
  const server = await sharedRedis()
  // A second copy of the ioredis classes: its modules loaded anew (the store keeps the copy it imported).
  const require = createRequire(import.meta.url)
  const copy = join(dirname(require.resolve('ioredis/package.json')), sep)
  for (const file of Object.keys(require.cache)) if (file.startsWith(copy)) delete require.cache[file]
  const other = require('ioredis') as typeof import('ioredis')
  t.not(other.Redis, Redis, 'another class')
  const client = new other.Redis(server.url)
  t.teardown(() => client.disconnect())
  const store = redisStore({ client, keyPrefix: 'other-copy:' })
  t.teardown(() => store.close())
  t.ok(await eventually(() => store.mirrorSynced, 2000), 'the subscription is opened on a duplicate of the client')
  await store.locks.lock('x', 5, 10)
  t.equal(await store.locks.lockedUntil('x'), 5)
})
