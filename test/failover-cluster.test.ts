// Issue 20 on a real Redis Cluster (three masters, three replicas, cluster-node-timeout 1 s): two instances under
// refreshes and logouts while the master holding the revocation index ({revocations}) is killed. Afterwards: no
// acknowledged logout undone, no acknowledged rotation lost, no false reuse, a live session served within 10 s.
import t from 'tap'
import { redisStore } from '../lib/redis.js'
import { instances, startLoad, verdict } from './helpers/failover-load.js'
import { startClusterTopology, until } from './helpers/topology.js'

const cluster = await startClusterTopology()
t.teardown(() => cluster.stop())

t.test('SIGKILL of the master of {revocations}: nothing acknowledged is lost', async (t) => {
  const store = () => redisStore({ cluster: { nodes: cluster.nodes } })
  const list = await instances(t, [store(), store()])
  const load = await startLoad(list)
  await until('some load before the failover', () => load.counts.rotations > 50, 10_000)
  const { from, to } = await cluster.killMasterOf('jwt-auth:{revocations}:values')
  t.not(to, from, `its replica took the slot (${from.port} -> ${to.port})`)
  const before = load.counts.rotations
  await until('load after the failover', () => load.counts.rotations > before + 50, 15_000)
  await load.stop()
  await verdict(t, list, load)
})
