import Fastify from 'fastify'
import { Redis } from 'ioredis'
import t from 'tap'
import { eventually } from './helpers/eventually.js'
import jwtAuth from '../lib/index.js'
import { redisStore, type RedisStore } from '../lib/stores/redis.js'
import { keySlot } from '../lib/stores/redis-connection.js'
import { bearer, buildApp, SECRET } from './helpers/app.js'
import { startCluster } from './helpers/redis.js'
import { PASSWORDS, seedUsers } from './helpers/routes-app.js'

const cluster = await startCluster()
t.teardown(() => cluster.stop())

const clusterStore = (keyPrefix: string) => redisStore({ cluster: { nodes: cluster.nodes }, keyPrefix })

t.test('keySlot computes the slot CLUSTER KEYSLOT gives', async (t) => {
  const node = new Redis(cluster.nodes[0]!)
  t.teardown(() => node.disconnect())
  for (const key of ['foo', 'a{b}c', '{}x', 'x{', 'x{}{y}', '{user1000}.following', 'jwt-auth:{revocations}:values', 'é{ü}']) {
    t.equal(keySlot(key), Number(await node.cluster('KEYSLOT', key)), key)
  }
})

t.test('the store on a 3-master cluster: keys spread over the masters, no cross-slot command', async (t) => {
  const store = clusterStore('cl:')
  t.teardown(() => store.close())
  // One family per token: the family is the hash tag, so the tokens spread over the slots.
  for (let i = 0; i < 30; i++) await store.refreshTokens.create(`family${i}`, 'first', `record${i}`, 60)
  for (let i = 0; i < 30; i++) {
    t.same(await store.refreshTokens.find(`family${i}`, 'first'), { state: 'live', record: `record${i}` })
  }
  // A rotation's keys (token, successor, parent) share the family's slot: one script, no CROSSSLOT.
  const rotation = { family: 'family1', ttlSeconds: 60, graceSeconds: 10, generation: 1 }
  t.same(await store.refreshTokens.rotate({ ...rotation, jti: 'first', next: { jti: 'second', record: 'r2' }, successor: 's2' }),
    { state: 'live', record: 'record1' })
  t.same(await store.refreshTokens.rotate({
    ...rotation, jti: 'second', parent: 'first', next: { jti: 'third', record: 'r3' }, successor: 's3'
  }), { state: 'live', record: 'r2' })
  t.equal((await store.refreshTokens.find('family1', 'first'))?.state, 'absent', 'the parent\'s grace ended')
  await store.challenges.put('c', 'v', 60)
  t.equal(await store.challenges.take('c'), 'v')
  t.equal(await store.challenges.take('c'), null)
  t.equal(await store.counters.increment('n', 60), 1)
  t.equal(await store.counters.increment('n', 60), 2)
  await store.refreshTokens.discard('family2', 'first')
  t.equal((await store.refreshTokens.find('family2', 'first'))?.state, 'absent')
  for (let i = 0; i < 10; i++) await store.locks.lock(`user${i}`, i, 60)
  for (let i = 0; i < 10; i++) await store.sessions.put(`user${i}`, 'family', 'session', 60)
  const perNode = await Promise.all(cluster.nodes.map(async ({ port }) => {
    const node = new Redis({ port, host: '127.0.0.1' })
    const keys = await node.keys('cl:*')
    await node.quit()
    return keys.length
  }))
  t.ok(perNode.every((count) => count > 0), `keys on every master: ${perNode.join(', ')}`)
})

t.test('replicas on a cluster: the write and its WAIT reach the master of its slot; too few replicas refuse it',
  async (t) => {
    // This cluster's masters have no replica: the WAIT answers 0, the write is not acknowledged.
    const store = redisStore({ cluster: { nodes: cluster.nodes }, keyPrefix: 'clr:', replicas: 1, replicaTimeout: '100ms' })
    t.teardown(() => store.close())
    await t.rejects(store.revocations.raise('user', 'u1', 1, 60), { message: /the write reached 0 of 1 replicas/ })
    t.equal(await store.revocations.read('user', 'u1'), '1', 'the master took it; the store\'s own connection reads it')
  })

t.test('sessions on the cluster: rotation, reuse detection and revocation across two instances', async (t) => {
  const [a, b] = await Promise.all([0, 1].map(async () => {
    // Strict rotation: of concurrent refreshes one wins, and the others are reuses (no grace to replay within).
    const app = await buildApp(clusterStore('sess:'), { options: { refreshGrace: 0 } })
    t.teardown(async () => { await app.close(); await app.jwtAuth.store.close?.() })
    return app
  })) as [Awaited<ReturnType<typeof buildApp>>, Awaited<ReturnType<typeof buildApp>>]
  const me = async (app: typeof a, token: string) => (await app.inject({ url: '/me', headers: bearer(token) })).statusCode
  for (const app of [a, b]) t.ok(await eventually(() => (app.jwtAuth.store as RedisStore).mirrorSynced, 3000), 'the revocation mirror listens on a cluster node')

  const login = await a.jwtAuth.issue({ id: 1 })
  t.equal(await me(b, login.accessToken), 200)
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).jwtAuth.refresh(login.refreshToken)))
  t.equal(results.filter((result) => result.status === 'fulfilled').length, 1, 'one of ten concurrent refreshes wins')
  const winner = (results.find((result) => result.status === 'fulfilled') as PromiseFulfilledResult<{ accessToken: string }>).value
  t.ok(await eventually(async () => await me(a, winner.accessToken) === 401, 50), 'the reuse revoked the family')

  const second = await b.jwtAuth.issue({ id: 2 })
  await a.jwtAuth.revoke(second.refreshToken)
  t.ok(await eventually(async () => await me(b, second.accessToken) === 401, 50), 'a revocation on A reaches B within 50 ms')
  const third = await b.jwtAuth.issue({ id: 3 })
  await a.jwtAuth.revokeAll(3)
  t.ok(await eventually(async () => await me(b, third.accessToken) === 401, 50), 'so does a revokeAll')
  t.equal(await me(b, (await a.jwtAuth.issue({ id: 3 })).accessToken), 200)
})

t.test('login, lockout and the rate limiter on the cluster', async (t) => {
  const users = await seedUsers()
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET,
    store: clusterStore('routes:'),
    routes: { captcha: false, lockout: { maxFailures: 2 } },
    rateLimit: { max: 5, timeWindow: '1 minute' },
    users: { findByLogin: async (login) => users.find((user) => user.username === login) ?? null }
  })
  t.teardown(async () => { await app.close(); await app.jwtAuth.store.close?.() })
  const login = (username: string, password: string) => app.inject({ method: 'POST', url: '/auth/login', payload: { username, password } })
  t.equal((await login('alice', PASSWORDS.alice)).statusCode, 200)
  t.equal((await login('bob', 'wrong')).statusCode, 401)
  t.equal((await login('bob', 'wrong')).statusCode, 401)
  t.equal((await login('bob', PASSWORDS.bob)).statusCode, 429, 'locked')
  t.equal((await login('alice', PASSWORDS.alice)).statusCode, 200)
  t.equal((await login('alice', PASSWORDS.alice)).statusCode, 429, 'rate limited after five')
})

t.test('cluster options are passed through, over the fail-fast defaults', async (t) => {
  const store = redisStore({ cluster: { nodes: cluster.nodes, options: { scaleReads: 'master', redisOptions: { commandTimeout: 500 } } }, keyPrefix: 'opts:' })
  t.teardown(() => store.close())
  await store.locks.lock('a', 1, 10)
  t.equal(await store.locks.lockedUntil('a'), 1)
  t.equal((store.client as unknown as { options: { redisOptions: { commandTimeout: number, maxRetriesPerRequest: number } } }).options.redisOptions.commandTimeout, 500)
  t.equal((store.client as unknown as { options: { redisOptions: { maxRetriesPerRequest: number } } }).options.redisOptions.maxRetriesPerRequest, 1, 'defaults kept where not overridden')
})

t.test('the mirror on a cluster client you pass: already connected, or ready only after the store was closed', async (t) => {
  const { Cluster } = await import('ioredis')
  const client = new Cluster(cluster.nodes)
  t.teardown(() => client.disconnect())
  await new Promise((resolve) => client.once('ready', resolve))
  const store = redisStore({ client, keyPrefix: 'given:' })
  t.teardown(() => store.close())
  t.ok(await eventually(() => store.mirrorSynced, 3000), 'in sync')
  await store.revocations.raise('family', 'x', Date.now(), 60)
  t.not(store.revocations.peek!('family', 'x'), null)
  t.ok(store.userInvalidations.live, 'invalidations are live too')

  // A store closed before your cluster client is ready opens no mirror connection afterwards.
  const later = new Cluster(cluster.nodes)
  t.teardown(() => later.disconnect())
  const early = redisStore({ client: later, keyPrefix: 'early:' })
  await early.close()
  await new Promise((resolve) => later.once('ready', resolve))
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.notOk(early.mirrorSynced)
  t.notOk(early.userInvalidations.live, 'no subscription was opened')
  t.equal(early.mirrorSize, 0)
})
