// Real redis-server processes on free loopback ports (no mocks): started by the
// tests so they can kill, pause and restart them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'

export async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

const running = new Set<ChildProcess>()
process.once('exit', () => { for (const child of running) child.kill('SIGKILL') })

export class RedisServer {
  child: ChildProcess | undefined
  readonly dir: string

  constructor (readonly port: number, readonly extraArgs: string[] = [], readonly configFile?: string) {
    this.dir = mkdtempSync(join(tmpdir(), 'jwt-auth-redis-'))
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async start (): Promise<this> {
    const config = this.configFile === undefined ? [] : [this.configFile]
    const child = spawn('redis-server', [...config, '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', this.dir, '--protected-mode', 'no', ...this.extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    running.add(child)
    await new Promise<void>((resolve, reject) => {
      let output = ''
      const onData = (chunk: Buffer): void => {
        output += String(chunk)
        if (output.includes('Ready to accept connections') || output.includes('Sentinel ID is')) {
          child.stdout!.off('data', onData)
          child.stdout!.resume()
          resolve()
        }
      }
      child.stdout!.on('data', onData)
      child.once('exit', (code) => reject(new Error(`redis-server on ${this.port} exited (${String(code)}): ${output}`)))
    })
    return this
  }

  /** SIGKILL: the connection drops at once. */
  async kill (): Promise<void> {
    const child = this.child
    // A process killed by a signal has signalCode set and exitCode null.
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
    running.delete(child)
  }

  /** SIGSTOP: the connection stays open, nothing answers. */
  pause (): void { this.child?.kill('SIGSTOP') }
  resume (): void { this.child?.kill('SIGCONT') }

  async stop (): Promise<void> {
    this.resume()
    await this.kill()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export async function startRedis (extraArgs: string[] = []): Promise<RedisServer> {
  return new RedisServer(await freePort(), extraArgs).start()
}

let shared: Promise<RedisServer> | undefined

/** One redis-server per test file, stopped when the file's tests end. */
export function sharedRedis (): Promise<RedisServer> {
  if (shared === undefined) {
    shared = startRedis()
    t.teardown(async () => { await (await shared!).stop() })
  }
  return shared
}

/** A 3-master Redis Cluster on loopback. */
export async function startCluster (): Promise<{ nodes: Array<{ host: string, port: number }>, servers: RedisServer[], stop: () => Promise<void> }> {
  const servers: RedisServer[] = []
  for (let i = 0; i < 3; i++) {
    servers.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']))
  }
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...servers.map((server) => `127.0.0.1:${server.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' })
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
  // Wait until every node sees the cluster as ok.
  for (const server of servers) {
    for (let attempt = 0; ; attempt++) {
      const info = spawnSync('redis-cli', ['-p', String(server.port), 'cluster', 'info'], { encoding: 'utf8' }).stdout
      if (info.includes('cluster_state:ok')) break
      if (attempt > 100) throw new Error(`cluster not ok on ${server.port}: ${info}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return {
    nodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })),
    servers,
    stop: async () => { await Promise.all(servers.map((server) => server.stop())) }
  }
}

/** A master and one Sentinel monitoring it as 'mymaster'. */
export async function startSentinel (): Promise<{ master: RedisServer, sentinel: RedisServer, stop: () => Promise<void> }> {
  const master = await startRedis()
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'jwt-auth-sentinel-'))
  const configFile = join(dir, 'sentinel.conf')
  writeFileSync(configFile, `sentinel monitor mymaster 127.0.0.1 ${master.port} 1\nsentinel down-after-milliseconds mymaster 1000\n`)
  const sentinel = await new RedisServer(port, ['--sentinel'], configFile).start()
  return {
    master,
    sentinel,
    stop: async () => {
      await sentinel.stop()
      await master.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
