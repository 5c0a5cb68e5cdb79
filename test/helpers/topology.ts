// Redis topologies that fail over, on free loopback ports (no mocks): Sentinel (a master, a replica, three
// Sentinels, quorum 2) and Cluster (three masters, three replicas). The tests fail them over on purpose:
// gracefully (SENTINEL FAILOVER) or by SIGKILL of the master. Every wait polls with a bound: no fixed sleeps.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, RedisServer, startRedis } from './redis.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** redis-cli against a loopback port: the reply as text. */
export function cli (port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim()
}

/** Polls until `check` holds; throws naming `what` past `withinMs`. Resolves to the ms it took. */
export async function until (what: string, check: () => boolean | Promise<boolean>, withinMs: number): Promise<number> {
  const started = performance.now()
  while (!(await check())) {
    if (performance.now() - started > withinMs) throw new Error(`not within ${withinMs} ms: ${what}`)
    await sleep(20)
  }
  return performance.now() - started
}

const linkUp = (port: number): boolean => cli(port, 'info', 'replication').includes('master_link_status:up')

export interface SentinelTopology {
  name: 'mymaster'
  /** Every data node, the current master among them. */
  servers: RedisServer[]
  sentinels: RedisServer[]
  /** What `redisStore({ redisOptions: { sentinels, name } })` takes. */
  sentinelAddresses: Array<{ host: string, port: number }>
  /** The data node the Sentinels name as master now. */
  master (): RedisServer
  /** SENTINEL FAILOVER: resolves once every Sentinel names the replica as master, with the old and new masters. */
  failover (): Promise<{ from: RedisServer, to: RedisServer }>
  /** SIGKILL of the master: resolves once every Sentinel names its replica as master. */
  killMaster (): Promise<{ from: RedisServer, to: RedisServer }>
  stop (): Promise<void>
}

/**
 * A master, `replicas` replicas (default 1) and three Sentinels (quorum 2, `down-after-milliseconds` 1000).
 * Resolves once the replicas are in sync and every Sentinel knows them and the two other Sentinels (a SIGKILL
 * failover needs a majority of them to elect a leader).
 */
export async function startSentinelTopology ({ replicas = 1 } = {}): Promise<SentinelTopology> {
  const master = await startRedis()
  const servers = [master]
  for (let i = 0; i < replicas; i++) servers.push(await startRedis(['--replicaof', '127.0.0.1', String(master.port)]))
  await until('the replicas in sync', () => servers.slice(1).every((replica) => linkUp(replica.port)), 10_000)
  const dir = mkdtempSync(join(tmpdir(), 'jwt-auth-sentinels-'))
  const sentinels: RedisServer[] = []
  for (let i = 0; i < 3; i++) {
    const configFile = join(dir, `sentinel-${i}.conf`)
    writeFileSync(configFile, [
      `sentinel monitor mymaster 127.0.0.1 ${master.port} 2`,
      'sentinel down-after-milliseconds mymaster 1000',
      'sentinel failover-timeout mymaster 10000',
      ''
    ].join('\n'))
    sentinels.push(await new RedisServer(await freePort(), ['--sentinel'], configFile).start())
  }
  const masterPort = (sentinel: RedisServer): number =>
    Number(cli(sentinel.port, 'sentinel', 'get-master-addr-by-name', 'mymaster').split('\n')[1])
  const known = (sentinel: RedisServer): boolean => {
    const fields = cli(sentinel.port, 'sentinel', 'master', 'mymaster').split('\n')
    const field = (name: string): string | undefined => fields[fields.indexOf(name) + 1]
    return field('num-slaves') === String(replicas) && field('num-other-sentinels') === '2'
  }
  await until('every Sentinel knows the replica and the others', () => sentinels.every(known), 15_000)
  const current = (): RedisServer => {
    const port = masterPort(sentinels[0]!)
    return servers.find((server) => server.port === port)!
  }
  const switched = async (from: RedisServer): Promise<{ from: RedisServer, to: RedisServer }> => {
    await until('every Sentinel names the new master', () => sentinels.every((s) => masterPort(s) !== from.port), 20_000)
    return { from, to: current() }
  }
  return {
    name: 'mymaster',
    servers,
    sentinels,
    sentinelAddresses: sentinels.map((sentinel) => ({ host: '127.0.0.1', port: sentinel.port })),
    master: current,
    async failover () {
      const from = current()
      const answer = cli(sentinels[0]!.port, 'sentinel', 'failover', 'mymaster')
      if (answer !== 'OK') throw new Error(`SENTINEL FAILOVER: ${answer}`)
      return switched(from)
    },
    async killMaster () {
      const from = current()
      await from.kill()
      return switched(from)
    },
    async stop () {
      await Promise.all([...sentinels, ...servers].map((server) => server.stop()))
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export interface ClusterTopology {
  nodes: Array<{ host: string, port: number }>
  servers: RedisServer[]
  /** The master serving the slot of `key` now. */
  masterOf (key: string): RedisServer
  /** SIGKILL of the master serving `key`: resolves once its replica serves the slot, on every live node's view. */
  killMasterOf (key: string): Promise<{ from: RedisServer, to: RedisServer }>
  stop (): Promise<void>
}

/** Three masters with a replica each (`cluster-node-timeout` 1000), every node agreeing the cluster is ok. */
export async function startClusterTopology (): Promise<ClusterTopology> {
  const servers: RedisServer[] = []
  for (let i = 0; i < 6; i++) {
    servers.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', '1000']))
  }
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...servers.map((server) => `127.0.0.1:${server.port}`),
    '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8' })
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
  const alive = (): RedisServer[] => servers.filter((server) => server.child?.exitCode === null && server.child.signalCode === null)
  const ok = (server: RedisServer): boolean => cli(server.port, 'cluster', 'info').includes('cluster_state:ok')
  await until('every node sees the cluster ok', () => servers.every(ok), 20_000)
  await until('every replica in sync', () => servers.every((server) =>
    !cli(server.port, 'role').startsWith('slave') || linkUp(server.port)), 20_000)
  const masterOf = (key: string, via = alive()[0]!): RedisServer => {
    const slot = Number(cli(via.port, 'cluster', 'keyslot', key))
    // CLUSTER SLOTS: flat lines of start, end, then the master's ip, port, id, ...
    const lines = cli(via.port, 'cluster', 'slots').split('\n')
    for (let i = 0; i + 3 < lines.length; i++) {
      const start = Number(lines[i]); const end = Number(lines[i + 1])
      if (lines[i + 2] === '127.0.0.1' && Number.isInteger(start) && Number.isInteger(end) && slot >= start && slot <= end) {
        const port = Number(lines[i + 3])
        return servers.find((server) => server.port === port)!
      }
    }
    throw new Error(`no master for slot ${slot}`)
  }
  return {
    nodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })),
    servers,
    masterOf: (key) => masterOf(key),
    async killMasterOf (key) {
      const from = masterOf(key)
      await from.kill()
      let to: RedisServer | undefined
      await until('a replica serves the slot on every live node', () => {
        const views = alive().map((server) => { try { return masterOf(key, server) } catch { return undefined } })
        to = views[0]
        return views.every((view) => view !== undefined && view !== from && view === to) && alive().every(ok)
      }, 20_000)
      return { from, to: to! }
    },
    async stop () { await Promise.all(servers.map((server) => server.stop())) }
  }
}
