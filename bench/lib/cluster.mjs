// A Redis Cluster for the failover benches: three masters with a replica each on free loopback ports
// (cluster-node-timeout 1000); the master of a key killed on demand, and started again (it rejoins as a replica).
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cli, until } from './sentinel.mjs'

const freePort = () => new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)) })
})

const children = new Set()
process.once('exit', () => { for (const child of children) child.kill('SIGKILL') })

async function start (node) {
  const child = spawn('redis-server', ['--port', String(node.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', node.dir, '--protected-mode', 'no', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
    '--cluster-node-timeout', '1000'], { stdio: 'ignore' })
  children.add(child)
  child.once('exit', () => children.delete(child))
  await until(`redis on ${node.port}`, () => cli(node.port, 'ping') === 'PONG', 10_000)
  node.child = child
}

export async function clusterTopology () {
  const dir = mkdtempSync(join(tmpdir(), 'jwt-auth-bench-cluster-'))
  const nodes = []
  for (let i = 0; i < 6; i++) {
    const node = { port: await freePort(), dir: mkdtempSync(join(dir, 'node-')) }
    await start(node)
    nodes.push(node)
  }
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`),
    '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8' })
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
  const ok = (node) => cli(node.port, 'cluster', 'info').includes('cluster_state:ok')
  const synced = (node) => !cli(node.port, 'role').startsWith('slave') ||
    cli(node.port, 'info', 'replication').includes('master_link_status:up')
  await until('the cluster ok and in sync', () => nodes.every((node) => ok(node) && synced(node)), 30_000)
  const alive = () => nodes.filter(({ child }) => child.exitCode === null && child.signalCode === null)
  // The master serving the slot of `key`, as the first live node sees it (CLUSTER NODES: id, address, flags, ...,
  // then the slot ranges from the ninth field on).
  const masterOf = (key) => {
    const via = alive()[0]
    const slot = Number(cli(via.port, 'cluster', 'keyslot', key))
    for (const line of cli(via.port, 'cluster', 'nodes').split('\n')) {
      const fields = line.split(' ')
      if (!fields[2].includes('master') || fields[2].includes('fail')) continue
      const serves = fields.slice(8).some((range) => {
        const [from, to = from] = range.split('-').map(Number)
        return slot >= from && slot <= to
      })
      if (serves) return nodes.find((node) => node.port === Number(fields[1].split('@')[0].split(':')[1]))
    }
    return undefined
  }
  return {
    nodes: nodes.map(({ port }) => ({ host: '127.0.0.1', port })),
    /** SIGKILL of the master of `key`; once its replica took over, the killed node starts again as a replica. */
    async killMasterOf (key) {
      const from = masterOf(key)
      from.child.kill('SIGKILL')
      await until('a replica took the slot', () => { const to = masterOf(key); return to !== undefined && to !== from }, 30_000)
      await start(from)
      await until('the cluster ok and in sync again', () => nodes.every((node) => ok(node) && synced(node)), 60_000)
    },
    stop () {
      for (const { child } of nodes) child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
