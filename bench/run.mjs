// npm run bench: the server on one core, autocannon on the other (taskset when
// present), every route in rounds with alternating order after a warm-up.
// Prints medians and ratios; absolute req/s mean little on a noisy machine.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'

// BENCH_SMOKE=1: a few iterations only, so the test suite can check that the script still runs.
const SMOKE = process.env.BENCH_SMOKE === '1'
const ROUNDS = Number(process.env.ROUNDS ?? (SMOKE ? 1 : 5))
const DURATION = Number(process.env.DURATION ?? (SMOKE ? 1 : 3))
const CONNECTIONS = 100
const PIPELINING = 10
const taskset = spawnSync('taskset', ['--version']).status === 0
const pin = (core, command, args) => taskset ? ['taskset', ['-c', String(core), command, ...args]] : [command, args]

const freePort = () => new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)) })
})

// A redis-server of our own for the Redis variant.
const redisPort = await freePort()
const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', mkdtempSync(`${tmpdir()}/bench-redis-`)], { stdio: 'ignore' })
await new Promise((resolve) => setTimeout(resolve, 300))

const [command, args] = pin(0, process.execPath, ['bench/server.mjs'])
const server = spawn(command, args, { env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${redisPort}` }, stdio: ['ignore', 'pipe', 'inherit'] })
const { port, expressPort, tokens } = JSON.parse((await createInterface({ input: server.stdout })[Symbol.asyncIterator]().next()).value)
// ROUTES=bare,memory,... measures a subset (the bare route always comes along).
const only = process.env.ROUTES?.split(',')
const routes = ['bare', ...Object.keys(tokens)].filter((route) => only === undefined || route === 'bare' || only.includes(route))

function load (route, duration) {
  const pool = tokens[route] ?? []
  let next = 0
  return new Promise((resolve, reject) => {
    autocannon({
      url: `http://127.0.0.1:${route.startsWith('express-') ? expressPort : port}/${route}`,
      connections: CONNECTIONS,
      pipelining: PIPELINING,
      duration,
      headers: pool.length === 1 ? { authorization: `Bearer ${pool[0]}` } : undefined,
      // A pool: every request takes the next distinct token (verify-cache misses).
      requests: pool.length > 1
        ? [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${pool[next++ % pool.length]}` } }) }]
        : undefined
    }, (error, result) => {
      if (error) return reject(error)
      if (result.non2xx > 0 || result.errors > 0) return reject(new Error(`${route}: ${result.non2xx} non-2xx, ${result.errors} errors`))
      resolve(result.requests.average)
    })
  })
}

console.log(`server pinned to core 0, load to core 1: ${taskset}; ${CONNECTIONS} connections, pipelining ${PIPELINING}, ${ROUNDS} rounds of ${DURATION} s`)
if (!SMOKE) for (const route of routes) { process.stderr.write(`warm-up ${route}\n`); await load(route, 1) }
const samples = Object.fromEntries(routes.map((route) => [route, []]))
for (let round = 0; round < ROUNDS; round++) {
  for (const route of round % 2 === 0 ? routes : [...routes].reverse()) samples[route].push(await load(route, DURATION))
}
const median = (values) => { const sorted = [...values].sort((a, b) => a - b); return sorted[Math.floor(sorted.length / 2)] }
const medians = Object.fromEntries(routes.map((route) => [route, median(samples[route])]))
const bare = medians.bare
const peer = medians['fastify-jwt']
const raw = { 'memory-pool': medians['fast-jwt-pool'], 'rs256-pool': medians['fast-jwt-rs256-pool'] }
// Paired: each round's ratio to the bare route of the same round, then the median of those. Slow drifts of the
// machine (the bare route itself moves by 20% between runs) cancel within a round.
const paired = (route) => median(samples[route].map((rps, round) => rps / samples.bare[round]))
const sameHeader = medians['bare-token']
console.log('\n| route | median req/s | rounds (min-max) | vs bare | vs bare, paired by round | vs bare-token (same request) | vs @fastify/jwt | µs added per request (vs bare) |')
console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
for (const route of routes) {
  const rps = medians[route]
  // express routes are compared with express's own bare route
  const base = route.startsWith('express-') ? medians['express-bare'] : bare
  const added = route === 'bare' || route === 'express-bare' ? '' : ((1 / rps - 1 / base) * 1e6).toFixed(1)
  const spread = `${Math.round(Math.min(...samples[route]))}-${Math.round(Math.max(...samples[route]))}`
  console.log(`| ${route} | ${Math.round(rps)} | ${spread} | ${(rps / base).toFixed(3)} | ${route.startsWith('express-') ? '' : paired(route).toFixed(3)} | ${sameHeader === undefined || route.startsWith('express-') ? '' : (rps / sameHeader).toFixed(3)} | ${peer === undefined ? '' : (rps / peer).toFixed(3)} | ${added} |`)
}
for (const [route, floor] of Object.entries(raw)) {
  if (medians[route] === undefined || floor === undefined) continue
  console.log(`glue of ${route} beyond fast-jwt's own verify: ${((1 / medians[route] - 1 / floor) * 1e6).toFixed(1)} µs per request`)
}
server.kill('SIGTERM')
redis.kill('SIGKILL')
