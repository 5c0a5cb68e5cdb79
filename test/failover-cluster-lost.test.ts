// Issue 20 on a real Redis Cluster: revocations the master of the index ({revocations}) acknowledged, then lost in a
// failover (its replica had not got them: here, deleted on both before the kill). A Cluster client re-routes the
// slot without reconnecting; the instance that holds them in its mirror must still write them back.
import { Cluster } from 'ioredis'
import t, { type Test } from 'tap'
import { redisStore, type RedisClient } from '../lib/redis.js'
import { scanHash } from '../lib/stores/redis-connection.js'
import { bearer, buildApp, decodePart } from './helpers/app.js'
import { eventually } from './helpers/eventually.js'
import { cli, startClusterTopology, until } from './helpers/topology.js'

const cluster = await startClusterTopology()
t.teardown(() => cluster.stop())

type App = Awaited<ReturnType<typeof buildApp>>
const status = async (app: App, token: string): Promise<number> =>
  (await app.inject({ url: '/me', headers: bearer(token) })).statusCode

async function instance (t: Test, client?: Cluster): Promise<App> {
  const store = redisStore(client === undefined
    ? { cluster: { nodes: cluster.nodes }, keyPrefix: 'lost:' }
    : { client: client as unknown as RedisClient, keyPrefix: 'lost:' })
  const app = await buildApp(store, { findById: false })
  t.teardown(async () => { await app.close(); await store.close() })
  t.ok(await eventually(() => store.mirrorSynced, 5000), 'the mirror is in sync')
  return app
}

/** The revocation index's field for a token's family (the marker a logout writes). */
const familyField = (token: string): string => `fam:${String(decodePart(token, 1).fam)}`

t.test('the snapshot on a Cluster: a chunk at a time on the master; given up if the slot moves mid-read', async (t) => {
  const client = new Cluster(cluster.nodes, { scaleReads: 'slave' })
  t.teardown(() => client.disconnect())
  const key = 'scan:{chunks}'
  const fields = Array.from({ length: 3000 }, (_, i) => [`fam:${i}`, `${Date.now() + 60_000} ${i}`]).flat()
  await client.hset(key, ...fields)
  const chunks: string[][] = []
  await scanHash(client, key, 100, (chunk) => { chunks.push(chunk); return true })
  t.ok(chunks.length > 10, `${chunks.length} chunks, none of the whole hash`)
  t.equal(new Set(chunks.flat().filter((_, i) => i % 2 === 0)).size, 3000, 'every field')

  // A graceful failover of the slot's master while the read goes on, a field per step: the client follows the
  // slot to the promoted replica, where the cursor means nothing.
  const master = cluster.masterOf(key)
  const replica = Number(cli(master.port, 'role').split('\n')[3])
  let steps = 0
  const moved = scanHash(client, key, 1, () => {
    if (++steps === 1) t.equal(cli(replica, 'cluster', 'failover'), 'OK', 'the replica takes over')
    return true
  })
  await t.rejects(moved, /moved to another node while it was read/)
  t.ok(steps < 3000, `given up after ${steps} of 3000 steps`)
  t.not(cluster.masterOf(key), master, 'the slot moved')
  const again: string[] = []
  await scanHash(client, key, 100, (chunk) => { again.push(...chunk); return true })
  t.equal(new Set(again.filter((_, i) => i % 2 === 0)).size, 3000, 'read again from the start: every field')
})

t.test('the master of the index fails over without the last revocations: the instance writes them back', async (t) => {
  const a = await instance(t)
  const loggedOut = await a.jwtAuth.issue({ id: 1 })
  const everywhere = await a.jwtAuth.issue({ id: 7 })
  const other = await a.jwtAuth.issue({ id: 2 })
  await a.jwtAuth.revoke(loggedOut.accessToken)
  await a.jwtAuth.revokeAll(7)
  const index = 'lost:{revocations}:values'
  const master = cluster.masterOf(index)
  // The loss: gone from the master and, through replication, from its replica.
  cli(master.port, 'del', index, 'lost:{revocations}:expiries')
  const { from } = await cluster.killMasterOf(index)
  t.teardown(async () => {
    // Back as a replica of the new master, for the next test.
    await from.start()
    await until('the old master follows the new one', () => cli(from.port, 'role').startsWith('slave') &&
      cli(from.port, 'info', 'replication').includes('master_link_status:up'), 20_000)
  })

  // Traffic on the slot (a logout) makes A's client learn the new master; the logout itself may answer 503 while
  // the slot moves.
  t.ok(await eventually(async () => {
    try { await a.jwtAuth.revoke(other.accessToken); return true } catch { return false }
  }, 15_000, 200), 'a logout on A after the failover')
  const promoted = cluster.masterOf(index)
  t.ok(await eventually(() => cli(promoted.port, 'hlen', index) === '3', 10_000, 100),
    'A wrote back the two markers the new master lacked')
  const b = await instance(t)
  t.same([await status(b, loggedOut.accessToken), await status(b, everywhere.accessToken)], [401, 401],
    'an instance started since refuses the tokens revoked before the failover')
  const again = await b.jwtAuth.issue({ id: 7 })
  t.same([await status(a, again.accessToken), await status(b, again.accessToken)], [200, 200],
    'a new login of the user revoked everywhere works on both')
})

t.test('a Cluster client you pass, ready before the store: the same after a failover', async (t) => {
  const client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
  t.teardown(() => client.disconnect())
  await until('your client ready', () => client.status === 'ready', 10_000)
  const a = await instance(t, client)
  const pair = await a.jwtAuth.issue({ id: 11 })
  const other = await a.jwtAuth.issue({ id: 12 })
  await a.jwtAuth.revoke(pair.accessToken)
  const index = 'lost:{revocations}:values'
  cli(cluster.masterOf(index).port, 'del', index, 'lost:{revocations}:expiries')
  await cluster.killMasterOf(index)
  t.ok(await eventually(async () => {
    try { await a.jwtAuth.revoke(other.accessToken); return true } catch { return false }
  }, 15_000, 200), 'a logout on A after the failover')
  const newMaster = () => cluster.masterOf(index).port
  t.ok(await eventually(() => cli(newMaster(), 'hexists', index, familyField(pair.accessToken)) === '1', 10_000, 100),
    'A wrote back the logout the new master lacked')
  const b = await instance(t)
  t.equal(await status(b, pair.accessToken), 401, 'an instance started since refuses the token')
})

t.test('the master of the index restarts empty at the same address, before any failover: written back too', async (t) => {
  const a = await instance(t)
  const pair = await a.jwtAuth.issue({ id: 21 })
  const other = await a.jwtAuth.issue({ id: 22 })
  await a.jwtAuth.revoke(pair.accessToken)
  const index = 'lost:{revocations}:values'
  const master = cluster.masterOf(index)
  await master.kill()
  await master.start() // no persistence: back empty, under its own address and id (nodes.conf)
  await until('the cluster ok again', () => cli(master.port, 'cluster', 'info').includes('cluster_state:ok'), 20_000)
  t.equal(cluster.masterOf(index), master, 'no failover: the same node serves the slot')
  t.ok(await eventually(async () => {
    try { await a.jwtAuth.revoke(other.accessToken); return true } catch { return false }
  }, 15_000, 200), 'a logout on A after the restart')
  t.ok(await eventually(() => cli(master.port, 'hexists', index, familyField(pair.accessToken)) === '1',
    10_000, 100), 'A wrote back the logout the restarted master lost')
})
