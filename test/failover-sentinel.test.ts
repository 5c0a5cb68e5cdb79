// Issue 20 on a real Sentinel topology (a master, a replica, three Sentinels, quorum 2, down-after 1 s): two
// instances under refreshes and logouts while the master fails over, gracefully (SENTINEL FAILOVER) and by
// SIGKILL. Afterwards: no false reuse, a live session served again within 10 s, and, where the topology promises
// it, nothing acknowledged lost. Without `replicas`, a graceful failover can lose what the old master took
// between the promotion and the clients' switch (redis-replicas.test.ts closes that window).
import t from 'tap'
import { redisStore, type RedisClient } from '../lib/redis.js'
import { decodePart } from './helpers/app.js'
import { instances, startLoad, verdict, type Instance } from './helpers/failover-load.js'
import { cli, startSentinelTopology, until } from './helpers/topology.js'

const topologies = await Promise.all([startSentinelTopology(), startSentinelTopology()])
t.teardown(() => Promise.all(topologies.map((topology) => topology.stop())))

/** Whether a login on each instance now lands on the node at `port`. */
async function writesReach (list: Instance[], port: number): Promise<boolean> {
  for (const { app } of list) {
    const { fam, jti } = decodePart((await app.jwtAuth.issue({ id: 'probe' })).refreshToken, 1) as { fam: string, jti: string }
    if (cli(port, 'exists', `jwt-auth:rt:{${fam}}:${jti}`) !== '1') return false
  }
  return true
}

t.test('SENTINEL FAILOVER: the instances leave the old master at once; a lost rotation is no reuse', async (t) => {
  const topology = topologies[0]!
  const store = () => redisStore({ redisOptions: { sentinels: topology.sentinelAddresses, name: topology.name } })
  const list = await instances(t, [store(), store()])
  // Each rotation the old master takes after the switch is lost and ends its session's chain: enough sessions that
  // the load goes on afterwards.
  const load = await startLoad(list, { sessions: 200 })
  await until('some load before the failover', () => load.counts.rotations > 50, 10_000)
  const { from, to } = await topology.failover()
  t.not(to, from, `the Sentinels promoted the replica (${from.port} -> ${to.port})`)
  // The old master stays a writable master until the Sentinels reconfigure it (about 10 s): the clients must not
  // wait for that (failoverDetector: they follow +switch-master).
  t.equal(cli(from.port, 'role').split('\n')[0], 'master', 'the old master is still a master')
  const took = await until('writes on the new master, from both instances', () => writesReach(list, to.port), 3000)
  t.pass(`both instances write to the new master ${Math.round(took)} ms after the Sentinels switched`)
  const before = load.counts.rotations
  await until('load on the new master', () => load.counts.rotations > before + 50, 15_000)
  await load.stop()
  await verdict(t, list, load, { nothingLost: false })
})

t.test('SIGKILL of the master: nothing acknowledged is lost (the replica had each write)', async (t) => {
  const topology = topologies[1]!
  const store = () => redisStore({ redisOptions: { sentinels: topology.sentinelAddresses, name: topology.name } })
  const list = await instances(t, [store(), store()])
  const load = await startLoad(list)
  await until('some load before the failover', () => load.counts.rotations > 50, 10_000)
  const { from, to } = await topology.killMaster()
  t.not(to, from, `the Sentinels promoted the replica (${from.port} -> ${to.port})`)
  const before = load.counts.rotations
  await until('load on the new master', () => load.counts.rotations > before + 50, 15_000)
  await load.stop()
  await verdict(t, list, load)
})

t.test('the Sentinel clients the store opens follow failovers and leave a demoted master; yours win', async (t) => {
  const { sentinelAddresses: sentinels, name } = topologies[0]!
  const defaults = redisStore({ redisOptions: { sentinels, name } })
  const mine = redisStore({ redisOptions: { sentinels, name, failoverDetector: false, reconnectOnError: null } })
  const plain = redisStore({ redisOptions: { port: topologies[0]!.master().port } })
  t.teardown(() => Promise.all([defaults.close(), mine.close(), plain.close()]))
  const options = (store: typeof defaults) => (store.client as unknown as { options: Record<string, any> }).options
  t.equal(options(defaults).failoverDetector, true)
  t.equal(options(defaults).reconnectOnError(new Error('READONLY You can\'t write against a read only replica.')), 2,
    'READONLY: reconnect (to the master the Sentinels name) and send the command again')
  t.equal(options(defaults).reconnectOnError(new Error('ERR wrong number of arguments')), false, 'other errors: no')
  t.equal(options(mine).failoverDetector, false)
  t.equal(options(mine).reconnectOnError, null)
  t.equal(options(plain).failoverDetector, false, 'not without Sentinels')
})

t.test('a Sentinel client that gives up while reconnecting (a failover announced meanwhile) is started again', async (t) => {
  const { sentinelAddresses: sentinels, name } = topologies[1]!
  const store = redisStore({ redisOptions: { sentinels, name } })
  const { app } = (await instances(t, [store]))[0]!
  const pair = await app.jwtAuth.issue({ id: 'u1' })
  // What ioredis' failover detector does on +switch-master, while the client is opening its next connection
  // (after a SIGKILL of the master, say): the connection in progress is closed, and the client ends.
  const client = store.client as unknown as Omit<RedisClient, 'disconnect'> & {
    connector: { disconnect (): void }
    disconnect (reconnect: boolean): void
  }
  const ended = new Promise((resolve) => { client.once('end', resolve) })
  client.once('connecting', () => { client.connector.disconnect() })
  client.disconnect(true)
  await ended
  const took = await until('the client ready again', () => client.status === 'ready', 3000)
  t.pass(`ready again ${Math.round(took)} ms after it ended`)
  t.ok((await app.jwtAuth.refresh(pair.refreshToken)).accessToken, 'and the store answers')
})
