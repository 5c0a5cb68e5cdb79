// Issue 20: "no false reuse" when a store's connections land on different nodes, as they can during a failover.
// With `replicas`, the store reads a refresh token on its main connection and confirms a spent one on the
// connection of its replicated writes. Here the writes' connection is opened on another master (B, with its own replica) than the reads' (A), through a
// proxy: A says the token is spent (a retry within the grace), B knows nothing of it.
import t from 'tap'
import { redisStore } from '../lib/redis.js'
import { instances } from './helpers/failover-load.js'
import { switchingProxy } from './helpers/proxy.js'
import { startRedis } from './helpers/redis.js'
import { cli, until } from './helpers/topology.js'

const [a, b] = await Promise.all([startRedis(), startRedis()])
const bReplica = await startRedis(['--replicaof', '127.0.0.1', String(b.port)])
await until('B\'s replica in sync', () => cli(bReplica.port, 'info', 'replication').includes('master_link_status:up'), 10_000)
t.teardown(() => Promise.all([a.stop(), b.stop(), bReplica.stop()]))

t.test('a spent token the writes\' node does not know: a 503, not a reuse; the family is kept', async (t) => {
  const proxy = await switchingProxy(a.port)
  t.teardown(() => proxy.close())
  const [split, plain] = await instances(t, [
    redisStore({ url: `redis://127.0.0.1:${proxy.port}`, replicas: 1, replicaTimeout: '1s' }),
    redisStore({ url: a.url })
  ])
  const pair = await plain!.app.jwtAuth.issue({ id: 'u1' })
  const next = await plain!.app.jwtAuth.refresh(pair.refreshToken)
  // From now on, a new connection of the split instance (its writes' connection, opened at its first write) is B's.
  proxy.target = b.port
  await t.rejects(split!.app.jwtAuth.refresh(pair.refreshToken), { code: 'FST_JWT_AUTH_STORE_UNAVAILABLE' },
    'the retry within the grace is not known: 503')
  t.same(split!.events.filter((event) => event.type === 'refresh.reuse'), [], 'no refresh.reuse event')
  const after = await plain!.app.jwtAuth.refresh(next.refreshToken)
  t.ok(after.accessToken, 'the family is not revoked: its live token refreshes')
  const me = await plain!.app.inject({ url: '/me', headers: { authorization: `Bearer ${after.accessToken}` } })
  t.equal(me.statusCode, 200)
})
