// node bench/login-flood.mjs (after npm run build): a flood of parallel logins
// against POST /auth/login (captcha, rate limit and lockout off), measuring the
// server's event-loop delay while argon2id runs, and throughput against
// cores / hash time. Argon2 runs on libuv's thread pool (UV_THREADPOOL_SIZE,
// default 4), which also bounds how many hashes hold their 19 MiB at once.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { availableParallelism } from 'node:os'
import autocannon from 'autocannon'
import Fastify from 'fastify'
import jwtAuth, { hashPassword, verifyPassword } from '../dist/esm/index.js'

// BENCH_SMOKE=1: a few iterations only, so the test suite can check that the script still runs.
const SMOKE = process.env.BENCH_SMOKE === '1'
const DURATION = Number(process.env.DURATION ?? (SMOKE ? 1 : 10))
const CONNECTIONS = Number(process.env.CONNECTIONS ?? (SMOKE ? 4 : 64))
const user = { id: 1, username: 'alice', passwordHash: await hashPassword('alice-password'), roles: [] }

// One verify alone, for the expected ceiling.
const runs = SMOKE ? 2 : 20
let started = process.hrtime.bigint()
for (let i = 0; i < runs; i++) await verifyPassword(user.passwordHash, 'alice-password')
const hashMs = Number(process.hrtime.bigint() - started) / 1e6 / runs

const app = Fastify()
await app.register(jwtAuth, {
  secret: 'bench-secret-bench-secret-bench-secret!!',
  routes: { captcha: false, lockout: false },
  rateLimit: false,
  users: { findByLogin: async (login) => login === 'alice' ? user : null }
})
await app.listen({ port: 0, host: '127.0.0.1' })
const url = `http://127.0.0.1:${app.server.address().port}/auth/login`

const delay = monitorEventLoopDelay({ resolution: 1 })
const rss = { peak: 0 }
const sampler = setInterval(() => { rss.peak = Math.max(rss.peak, process.memoryUsage().rss) }, 100)
delay.enable()
started = process.hrtime.bigint()
const result = await autocannon({
  url,
  method: 'POST',
  connections: CONNECTIONS,
  duration: DURATION,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'alice', password: 'alice-password' })
})
delay.disable()
clearInterval(sampler)
const cores = availableParallelism()
const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4)
console.log(`argon2id verify alone: ${hashMs.toFixed(1)} ms; cores ${cores}; thread pool ${threads}`)
console.log(`${CONNECTIONS} connections for ${DURATION} s: ${result.requests.average.toFixed(1)} logins/s (2xx ${result['2xx']}, non-2xx ${result.non2xx}, errors ${result.errors})`)
console.log(`ceiling cores / hash time: ${(cores * 1000 / hashMs).toFixed(1)} logins/s`)
console.log(`event-loop delay: p50 ${(delay.percentile(50) / 1e6).toFixed(2)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(2)} ms, max ${(delay.max / 1e6).toFixed(2)} ms`)
console.log(`peak rss ${(rss.peak / 1048576).toFixed(0)} MiB`)
await app.close()
