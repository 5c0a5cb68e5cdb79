// A real PostgreSQL server of the tests' own (no mocks), as redis.ts starts redis-server: Debian's binaries
// (initdb, postgres) in a temporary folder, on a free loopback port, trust authentication, stopped and deleted at
// the end. initdb refuses to run as root: as root, the server runs as the postgres user, in a folder it owns.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PostgresDialect } from 'kysely'
import pg from 'pg'
import t from 'tap'
import { freePort } from './redis.js'

/** The newest server binaries Debian's postgresql packages installed, or those on the PATH. */
function binary (name: string): string {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).filter((version) => /^\d+$/.test(version)) : []
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0]
  return newest === undefined ? name : join(root, newest, 'bin', name)
}

const asRoot = process.getuid?.() === 0
/** As root, a command as the postgres user. */
const command = (name: string, args: string[]): [string, string[]] =>
  asRoot ? ['runuser', ['-u', 'postgres', '--', binary(name), ...args]] : [binary(name), args]

const running = new Set<string>()
// A test file that dies leaves no server behind: its postmaster is told to quit at once.
process.once('exit', () => { for (const data of running) signalPostmaster(data, 'SIGQUIT') })

function signalPostmaster (data: string, signal: NodeJS.Signals): number | undefined {
  try {
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
    process.kill(pid, signal)
    return pid
  } catch {
    return undefined
  }
}

export class PostgresServer {
  readonly dir: string
  readonly data: string
  child: ChildProcess | undefined

  constructor (readonly port: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'jwt-auth-pg-'))
    this.data = join(this.dir, 'data')
    if (asRoot) {
      const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout)
      const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout)
      chownSync(this.dir, uid, gid)
    }
  }

  /** A connection string for `database` on this server. */
  url (database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`
  }

  async start (): Promise<this> {
    const [init, initArgs] = command('initdb', ['-D', this.data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8',
      '--locale=C', '--no-sync'])
    const initialized = spawnSync(init, initArgs, { encoding: 'utf8' })
    if (initialized.status !== 0) throw new Error(`initdb failed: ${initialized.stdout}${initialized.stderr}`)
    // Durability off: a test server that is deleted afterwards.
    const [server, serverArgs] = command('postgres', ['-D', this.data, '-p', String(this.port), '-k', this.dir,
      '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off', '-c', 'max_connections=200'])
    const child = spawn(server, serverArgs, { stdio: ['ignore', 'ignore', 'pipe'] })
    this.child = child
    running.add(this.data)
    let output = ''
    child.stderr!.on('data', (chunk) => { output += chunk })
    await new Promise<void>((resolve, reject) => {
      const onData = (): void => {
        if (!output.includes('database system is ready to accept connections')) return
        child.stderr!.off('data', onData)
        resolve()
      }
      child.stderr!.on('data', onData)
      child.once('exit', (code) => reject(new Error(`postgres on ${this.port} exited (${String(code)}): ${output}`)))
    })
    return this
  }

  /** A new database of its own, for one test file or one run. */
  async createDatabase (): Promise<string> {
    const name = `jwt_auth_${randomBytes(6).toString('hex')}`
    const client = new pg.Client(this.url())
    await client.connect()
    try {
      await client.query(`CREATE DATABASE ${name}`)
    } finally {
      await client.end()
    }
    return this.url(name)
  }

  /** A fast shutdown (SIGINT to the postmaster), then the folder is deleted. */
  async stop (): Promise<void> {
    const child = this.child
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      signalPostmaster(this.data, 'SIGINT') ?? child.kill('SIGINT')
      await exited
    }
    running.delete(this.data)
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export async function startPostgres (): Promise<PostgresServer> {
  return new PostgresServer(await freePort()).start()
}

let shared: Promise<PostgresServer> | undefined

/** One PostgreSQL server per test file, stopped when the file's tests end. */
export function sharedPostgres (): Promise<PostgresServer> {
  if (shared === undefined) {
    shared = startPostgres()
    t.teardown(async () => { await (await shared!).stop() })
  }
  return shared
}

/**
 * A Kysely dialect on a new database of the file's server (`max` clients). The server stops at the end of the file:
 * an idle client it ends then ('terminating connection') is no failure of the test.
 */
export async function postgresDialect (max = 4): Promise<PostgresDialect> {
  const pool = new pg.Pool({ connectionString: await (await sharedPostgres()).createDatabase(), max })
  pool.on('error', () => {})
  return new PostgresDialect({ pool })
}
