// A Sentinel topology for the failover benches (the tests have theirs in test/helpers/topology.ts): a master, one
// replica and three Sentinels (quorum 2, down-after 1 s) on free loopback ports, failed over on demand. Every
// wait polls with a bound.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
export const cli = (port, ...args) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim()

export async function until (what, check, withinMs, explain = () => '') {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > withinMs) throw new Error(`not within ${withinMs} ms: ${what} ${explain()}`)
    await sleep(20)
  }
}

const freePort = () => new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)) })
})

const children = new Set()
process.once('exit', () => { for (const child of children) child.kill('SIGKILL') })

async function start (port, dir, args) {
  const child = spawn('redis-server', [...args, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--protected-mode', 'no'], { stdio: 'ignore' })
  children.add(child)
  child.once('exit', () => children.delete(child))
  await until(`redis on ${port}`, () => cli(port, 'ping') === 'PONG', 10_000)
  return child
}

const linkUp = (port) => cli(port, 'info', 'replication').includes('master_link_status:up')
// The pair back to a master and a replica in sync, whichever is which: on a loaded machine the Sentinels may fail
// over again (a master slow to answer for down-after's 1 s) and make the node that was killed the master once more.
const paired = (nodes) => nodes.some((node) => linkUp(node.port))

export async function sentinelTopology () {
  const dir = mkdtempSync(join(tmpdir(), 'jwt-auth-bench-sentinel-'))
  const nodes = []
  for (let i = 0; i < 2; i++) {
    const port = await freePort()
    const args = i === 0 ? [] : ['--replicaof', '127.0.0.1', String(nodes[0].port)]
    nodes.push({ port, args, child: await start(port, mkdtempSync(join(dir, 'node-')), args) })
  }
  await until('the replica in sync', () => linkUp(nodes[1].port), 10_000)
  const sentinels = []
  for (let i = 0; i < 3; i++) {
    const port = await freePort()
    const config = join(dir, `sentinel-${i}.conf`)
    writeFileSync(config, `sentinel monitor mymaster 127.0.0.1 ${nodes[0].port} 2\nsentinel down-after-milliseconds mymaster 1000\n` +
      'sentinel failover-timeout mymaster 10000\n')
    sentinels.push({ port, child: await start(port, dir, [config, '--sentinel']) })
  }
  const masterPort = (sentinel) => Number(cli(sentinel.port, 'sentinel', 'get-master-addr-by-name', 'mymaster').split('\n')[1])
  const known = (sentinel) => {
    const fields = cli(sentinel.port, 'sentinel', 'master', 'mymaster').split('\n')
    return fields[fields.indexOf('num-slaves') + 1] === '1' && fields[fields.indexOf('num-other-sentinels') + 1] === '2'
  }
  await until('the Sentinels know each other and the replica', () => sentinels.every(known), 20_000)
  const master = () => nodes.find((node) => node.port === masterPort(sentinels[0]))
  const switched = (from) => until('every Sentinel names the new master', () => sentinels.every((s) => masterPort(s) !== from.port), 30_000)
  return {
    sentinels: sentinels.map(({ port }) => ({ host: '127.0.0.1', port })),
    master,
    /** SENTINEL FAILOVER; the old master follows the new one (as the Sentinels would make it ~10 s later). */
    async failover () {
      const from = master()
      cli(sentinels[0].port, 'sentinel', 'failover', 'mymaster')
      await switched(from)
      cli(from.port, 'replicaof', '127.0.0.1', String(master().port))
      await until('the old master in sync', () => paired(nodes), 60_000)
    },
    /** SIGKILL of the master; once the replica is promoted, the killed node comes back as its replica. */
    async killMaster () {
      const from = master()
      from.child.kill('SIGKILL')
      await switched(from)
      from.child = await start(from.port, mkdtempSync(join(dir, 'node-')), ['--replicaof', '127.0.0.1', String(master().port)])
      await until('the old master back in sync', () => paired(nodes), 60_000, () =>
        `(${cli(from.port, 'info', 'replication').replaceAll('\r\n', ' ')}; the Sentinels name ${master()?.port})`)
    },
    stop () {
      for (const { child } of [...nodes, ...sentinels]) child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
