// Issue 20: redisStore({ replicas, replicaTimeout }). Each revocation and rotation waits (WAIT) for the replicas
// before it is acknowledged; fewer within the timeout answer 503, never a silent success. On a graceful Sentinel
// failover (the old master keeps taking writes until the clients switch), nothing acknowledged is lost then.
import t from 'tap'
import { redisStore } from '../lib/redis.js'
import { bearer } from './helpers/app.js'
import { loginRequest, OLD_PASSWORD, seedAccountUsers } from './helpers/account-app.js'
import { buildHarness, cloneUsers, post } from './helpers/account-harness.js'
import { instances, startLoad, verdict } from './helpers/failover-load.js'
import { startRedis } from './helpers/redis.js'
import { cli, startSentinelTopology, until } from './helpers/topology.js'

const [sentinel, master] = await Promise.all([startSentinelTopology(), startRedis()])
const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)])
await until('the replica in sync', () => cli(replica.port, 'info', 'replication').includes('master_link_status:up'), 10_000)
t.teardown(() => Promise.all([sentinel.stop(), master.stop(), replica.stop()]))

t.test('replicas and replicaTimeout are checked, naming the option', async (t) => {
  const url = master.url
  for (const replicas of [-1, 1.5, '1', Number.NaN]) {
    t.throws(() => redisStore({ url, replicas: replicas as number }), { message: /redisStore: replicas must be a whole number/ })
  }
  t.throws(() => redisStore({ url, replicas: 1, replicaTimeout: 0 }), { message: /redisStore: replicaTimeout/ })
  t.throws(() => redisStore({ url, replicas: 1, replicaTimeout: '2m' }), { message: /redisStore: replicaTimeout must be at most 60s/ })
  t.throws(() => redisStore({ url, replicaTimeout: 'soon' }), { message: /redisStore: replicaTimeout/ })
})

t.test('replicas: 1: acknowledged once the replica has it; a replica that does not answer is a 503', async (t) => {
  const { app } = (await instances(t, [redisStore({ url: master.url, replicas: 1, replicaTimeout: '300ms' })]))[0]!
  const pair = await app.jwtAuth.issue({ id: 'u1' })
  const next = await app.jwtAuth.refresh(pair.refreshToken)
  const other = await app.jwtAuth.issue({ id: 'u2' })
  await app.jwtAuth.revoke(other.accessToken)
  replica.pause()
  t.teardown(() => { replica.resume() })
  const started = performance.now()
  await t.rejects(app.jwtAuth.refresh(next.refreshToken), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE' }, 'a rotation')
  t.ok(performance.now() - started < 1500, `answered after the timeout, not later (${Math.round(performance.now() - started)} ms)`)
  const third = await app.jwtAuth.issue({ id: 'u3' })
  await t.rejects(app.jwtAuth.revoke(third.accessToken), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE' }, 'a logout')
  await t.rejects(app.jwtAuth.revokeAll('u3'), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE' }, 'revokeAll')
  replica.resume()
  await until('the replica answers again', async () => {
    try {
      await app.jwtAuth.revokeAll('u3')
      return true
    } catch { return false }
  }, 5000)
  // Within the grace, the rotation that answered 503 hands out its successor (it was on the master).
  t.ok((await app.jwtAuth.refresh(next.refreshToken)).accessToken, 'the refresh tried again succeeds')
})

t.test('replicas: 1: a password reset\'s revocations wait too (503 without the replica, the password kept)', async (t) => {
  const store = redisStore({ url: master.url, keyPrefix: 'reset:', replicas: 1, replicaTimeout: '300ms' })
  const app = await buildHarness(store, cloneUsers(await seedAccountUsers()))
  t.teardown(async () => { await app.close(); await store.close() })
  const session = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
  await app.jwtAuth.requestPasswordReset('alice')
  const { token } = await app.inbox.next('reset')
  replica.pause()
  t.teardown(() => { replica.resume() })
  const refused = await post(app, '/auth/password/reset', { token, password: 'new-password-2' })
  t.equal(refused.statusCode, 503, 'the reset answers 503: its revocation is not known safe')
  replica.resume()
  t.equal((await loginRequest(app, 'alice', OLD_PASSWORD)).statusCode, 200, 'the password was not changed')
  const done = await post(app, '/auth/password/reset', { token, password: 'new-password-2' })
  t.equal(done.statusCode, 204, 'the link still works, once the replica is back')
  t.equal((await app.inject({ url: '/auth/me', headers: bearer(session.access_token) })).statusCode, 401,
    'the reset ended the session')
})

t.test('replicas: 1: a read answers while a write waits for a paused replica (its own connection)',
  async (t) => {
    const store = redisStore({ url: master.url, keyPrefix: 'apart:', replicas: 1, replicaTimeout: '800ms' })
    let closed = false
    t.teardown(async () => { if (!closed) await store.close() })
    await store.revocations.raise('user', 'before', 1, 60)
    replica.pause()
    t.teardown(() => { replica.resume() })
    const started = performance.now()
    const write = store.revocations.raise('user', 'u1', 2, 60).then(() => undefined, (error: Error) => error)
    // The write and its WAIT are on their way before the read.
    await new Promise((resolve) => setTimeout(resolve, 50))
    t.equal(await store.revocations.read('user', 'before'), '1', 'the read answers')
    const readMs = performance.now() - started
    t.ok(readMs < 500, `at once, not behind the WAIT (${Math.round(readMs)} ms)`)
    t.match(await write, { message: /the write reached 0 of 1 replicas within 800 ms/ }, 'the write still waits')
    t.ok(performance.now() - started >= 700, 'for its replicaTimeout')
    replica.resume()
    await store.close()
    closed = true
    await t.rejects(store.revocations.raise('user', 'u2', 3, 60), 'a closed store opens no connection again')
  })

t.test('a write the master refuses (min-replicas-to-write, no replica) is a 503 too', async (t) => {
  const lonely = await startRedis()
  t.teardown(() => lonely.stop())
  const { app } = (await instances(t, [redisStore({ url: lonely.url, replicas: 1 })]))[0]!
  const pair = await app.jwtAuth.issue({ id: 'u1' })
  cli(lonely.port, 'config', 'set', 'min-replicas-to-write', '1')
  await t.rejects(app.jwtAuth.refresh(pair.refreshToken), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE', cause: { message: /NOREPLICAS/ } })
  await t.rejects(app.jwtAuth.revoke(pair.accessToken), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE' })
})

t.test('SENTINEL FAILOVER with replicas: 1: nothing acknowledged is lost (the old master\'s writes are 503s)', async (t) => {
  const store = () => redisStore({ redisOptions: { sentinels: sentinel.sentinelAddresses, name: sentinel.name }, replicas: 1 })
  const list = await instances(t, [store(), store()])
  const load = await startLoad(list)
  await until('some load before the failover', () => load.counts.rotations > 50, 10_000)
  const { from, to } = await sentinel.failover()
  t.not(to, from, `the Sentinels promoted a replica (${from.port} -> ${to.port})`)
  // The new master has no replica until the old one follows it: the Sentinels make it do so about 10 s after a
  // graceful failover (writes answer 503 meanwhile); here at once, to keep the suite fast.
  cli(from.port, 'replicaof', '127.0.0.1', String(to.port))
  const before = load.counts.rotations
  await until('load on the new master', () => load.counts.rotations > before + 50, 15_000)
  await load.stop()
  await verdict(t, list, load)
})

t.test('replicas: 1: a write-back of markers Redis lost is trusted only once the replica has it', async (t) => {
  const store = redisStore({ url: master.url, keyPrefix: 'wb:', replicas: 1, replicaTimeout: '200ms', mirror: { staleAfter: 200 } })
  const { app } = (await instances(t, [store]))[0]!
  await until('the mirror in sync', () => store.mirrorSynced, 3000)
  const pair = await app.jwtAuth.issue({ id: 'u1' })
  await app.jwtAuth.revoke(pair.accessToken)
  // Lost (on the master and, replicated, on the replica); then the replica stops answering.
  cli(master.port, 'del', 'wb:{revocations}:values', 'wb:{revocations}:expiries')
  await until('the replica lost it too', () => cli(replica.port, 'hlen', 'wb:{revocations}:values') === '0', 3000)
  replica.pause()
  t.teardown(() => { replica.resume() })
  cli(master.port, 'client', 'kill', 'type', 'pubsub')
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(cli(master.port, 'hlen', 'wb:{revocations}:values'), '1', 'written back on the master')
  t.notOk(store.mirrorSynced, 'but not trusted: its WAIT failed, and each retry sends it again (the master has it now)')
  t.equal((await app.inject({ url: '/me', headers: bearer(pair.accessToken) })).statusCode, 401)
  replica.resume()
  await until('in sync once the replica has it', () => store.mirrorSynced, 10_000)
  t.equal(cli(replica.port, 'hlen', 'wb:{revocations}:values'), '1')
})
