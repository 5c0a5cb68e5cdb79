// Users in a database (fastify-jwt-auth/kysely): what a user-cache miss costs.
//  1. findById through kyselyUsers, in process, one awaited lookup after the other: µs per lookup on SQLite
//     (node:sqlite, a WAL file) and on PostgreSQL (a server of this script's own: initdb in a temporary folder, as the
//     tests do, on a free loopback port; pg's pool over TCP).
//  2. HTTP: an authenticated route whose user comes from the database, with the user cache on (the default) and off
//     (userCacheTtl: 0, a findById per request), against the bare route; the server on core 0 and the load on core 1
//     (taskset when present), rounds in alternating order, ratios paired by round as in run.mjs.
// `node bench/users-db.mjs` after `npm run build`; BENCH_SMOKE=1 runs a few iterations (the test suite's check).
import { spawn, spawnSync } from 'node:child_process'
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'
import Fastify from 'fastify'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import jwtAuth, { memoryStore } from '../dist/esm/index.js'
import { kyselyUsers, migrateToLatest, sqliteDialect } from '../dist/esm/kysely.js'

const SMOKE = process.env.BENCH_SMOKE === '1'
const USERS = SMOKE ? 20 : 10_000
const LOOKUPS = Number(process.env.LOOKUPS ?? (SMOKE ? 50 : 20_000))
const ROUNDS = Number(process.env.ROUNDS ?? (SMOKE ? 1 : 5))
const DURATION = Number(process.env.DURATION ?? (SMOKE ? 1 : 3))
const SECRET = 'bench-secret-bench-secret-bench-secret!!'
const body = { hello: 'world' }

const freePort = () => new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)) })
})
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const sqliteDb = (file) => new Kysely({ dialect: sqliteDialect(file) })
const pgDb = (url) => new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 10 }) }) })

// The server of part 2, in a process of its own: `node bench/users-db.mjs --server <sqlite file> <postgres url>`.
if (process.argv[2] === '--server') {
  await serve()
} else {
  await main()
}

async function serve () {
  const [file, url] = process.argv.slice(3)
  const app = Fastify({ logger: false })
  const tokens = {}
  app.get('/bare', async () => body)
  for (const [name, db] of [['sqlite', sqliteDb(file)], ['pg', pgDb(url)]]) {
    const users = kyselyUsers(db)
    const [{ id }] = await db.selectFrom('users').select('id').limit(1).execute()
    for (const [variant, userCacheTtl] of [['cache', '60s'], ['nocache', 0]]) {
      await app.register(async (context) => {
        await context.register(jwtAuth, { secret: SECRET, store: memoryStore(), users, userCacheTtl })
        context.get(`/${name}-${variant}`, { onRequest: context.authenticate }, async () => body)
        tokens[`${name}-${variant}`] = (await context.jwtAuth.issue({ id })).accessToken
      })
    }
  }
  await app.listen({ port: 0, host: '127.0.0.1' })
  process.stdout.write(JSON.stringify({ port: app.server.address().port, tokens }) + '\n')
  process.on('SIGTERM', async () => { await app.close(); process.exit(0) })
}

/** PostgreSQL of our own, as test/helpers/postgres.ts starts it (as the postgres user when root: initdb refuses root). */
async function startPostgres () {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pg-'))
  const root = process.getuid?.() === 0
  const bin = (name) => { const versions = spawnSync('ls', ['/usr/lib/postgresql'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean); return versions.length > 0 ? `/usr/lib/postgresql/${versions.sort((a, b) => b - a)[0]}/bin/${name}` : name }
  const as = (name, args) => root ? ['runuser', ['-u', 'postgres', '--', bin(name), ...args]] : [bin(name), args]
  if (root) chownSync(dir, Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout), Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout))
  const data = join(dir, 'data')
  const init = spawnSync(...as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']), { encoding: 'utf8' })
  if (init.status !== 0) throw new Error(`initdb: ${init.stderr}`)
  const port = await freePort()
  // The fill need not wait for the disk (synchronous_commit off); the lookups read what is in memory either way.
  const server = spawn(...as('postgres', ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'synchronous_commit=off']), { stdio: ['ignore', 'ignore', 'pipe'] })
  await new Promise((resolve, reject) => {
    let output = ''
    server.stderr.on('data', (chunk) => { output += chunk; if (output.includes('ready to accept connections')) resolve() })
    server.once('exit', (code) => reject(new Error(`postgres exited (${code}): ${output}`)))
  })
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop () {
      const exited = new Promise((resolve) => server.once('exit', resolve))
      process.kill(Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]), 'SIGINT')
      await exited
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Migrates and fills the users table; returns the ids. */
async function fill (db) {
  await migrateToLatest(db)
  const users = kyselyUsers(db, { defaultRoles: ['user'] })
  const ids = []
  for (let index = 0; index < USERS; index++) {
    ids.push((await users.create({ username: `user${index}`, passwordHash: 'not-a-real-hash', displayName: `User ${index}` })).id)
  }
  return ids
}

/** µs per findById, awaited one after the other, median of the rounds. */
async function lookups (db, ids) {
  const users = kyselyUsers(db)
  for (let index = 0; index < Math.min(LOOKUPS, 1000); index++) await users.findById(ids[index % ids.length])
  const rounds = []
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint()
    for (let index = 0; index < LOOKUPS; index++) {
      if (await users.findById(ids[(index * 7919) % ids.length]) === null) throw new Error('a user is missing')
    }
    rounds.push(Number(process.hrtime.bigint() - started) / 1000 / LOOKUPS)
  }
  return median(rounds)
}

function load (port, route, token) {
  return new Promise((resolve, reject) => {
    autocannon({
      url: `http://127.0.0.1:${port}/${route}`,
      connections: 100,
      pipelining: 10,
      duration: DURATION,
      headers: token === undefined ? undefined : { authorization: `Bearer ${token}` }
    }, (error, result) => {
      if (error) return reject(error)
      if (result.non2xx > 0 || result.errors > 0) return reject(new Error(`${route}: ${result.non2xx} non-2xx, ${result.errors} errors`))
      resolve(result.requests.average)
    })
  })
}

async function main () {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sqlite-'))
  const file = join(dir, 'users.sqlite')
  const postgres = await startPostgres()
  try {
    const sqlite = sqliteDb(file)
    const postgresql = pgDb(postgres.url)
    const figures = { SQLite: await lookups(sqlite, await fill(sqlite)), PostgreSQL: await lookups(postgresql, await fill(postgresql)) }
    await sqlite.destroy()
    await postgresql.destroy()
    console.log(`findById through kyselyUsers, ${USERS} users, ${LOOKUPS} lookups one after the other, median of ${ROUNDS} rounds:`)
    console.log(`findById µs per lookup: SQLite ${figures.SQLite.toFixed(1)}, PostgreSQL ${figures.PostgreSQL.toFixed(1)}`)

    const taskset = spawnSync('taskset', ['--version']).status === 0
    const args = ['bench/users-db.mjs', '--server', file, postgres.url]
    const server = taskset
      ? spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    const { port, tokens } = JSON.parse((await createInterface({ input: server.stdout })[Symbol.asyncIterator]().next()).value)
    const routes = ['bare', ...Object.keys(tokens)]
    if (!SMOKE) for (const route of routes) await load(port, route, tokens[route])
    const samples = Object.fromEntries(routes.map((route) => [route, []]))
    for (let round = 0; round < ROUNDS; round++) {
      for (const route of round % 2 === 0 ? routes : [...routes].reverse()) samples[route].push(await load(port, route, tokens[route]))
    }
    const exited = new Promise((resolve) => server.once('exit', resolve))
    server.kill('SIGTERM')
    await exited
    console.log(`\nHTTP, server pinned to core 0: ${taskset}; 100 connections, pipelining 10, ${ROUNDS} rounds of ${DURATION} s`)
    console.log('| route | median req/s | vs bare, paired by round | µs added per request (vs bare) |')
    console.log('|---|---:|---:|---:|')
    for (const route of routes) {
      const rps = median(samples[route])
      const paired = median(samples[route].map((value, round) => value / samples.bare[round]))
      const added = route === 'bare' ? '' : ((1 / rps - 1 / median(samples.bare)) * 1e6).toFixed(1)
      console.log(`| ${route} | ${Math.round(rps)} | ${paired.toFixed(3)} | ${added} |`)
    }
  } finally {
    await postgres.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
