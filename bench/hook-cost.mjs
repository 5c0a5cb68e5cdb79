// node bench/hook-cost.mjs (after npm run build): what `authenticate` itself costs per call, outside HTTP, on a
// verify-cache hit with the user cached: the memory store, and the Redis store answering from its mirror (a
// redis-server of its own). The same loop with an empty async hook is the floor. No sockets, so little noise.
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import Fastify from 'fastify'
import jwtAuth, { memoryStore } from '../dist/esm/index.js'
import { redisStore } from '../dist/esm/redis.js'

// BENCH_SMOKE=1: a few iterations only, so the test suite can check that the script still runs.
const SMOKE = process.env.BENCH_SMOKE === '1'
const CALLS = SMOKE ? 2_000 : 1_000_000
const ROUNDS = SMOKE ? 1 : 5
const port = await new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => { const address = server.address().port; server.close(() => resolve(address)) })
})
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', mkdtempSync(`${tmpdir()}/hook-cost-`)], { stdio: 'ignore' })
await new Promise((resolve) => setTimeout(resolve, 300))

const users = new Map([['1', { id: 1, roles: ['user'] }]])
async function hookOf (store) {
  const app = Fastify()
  await app.register(jwtAuth, { secret: 'bench-secret-bench-secret-bench-secret!!', store, users: { findById: async (id) => users.get(id) ?? null } })
  await app.ready()
  while (store.mirrorSynced === false) await new Promise((resolve) => setTimeout(resolve, 10))
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  const header = `Bearer ${accessToken}`
  // The first call verifies the signature and loads the user; the measured ones are hits.
  await app.authenticate({ headers: { authorization: header }, raw: { rawHeaders: ['Authorization', header] }, auth: null, user: null }, {})
  return { app, hook: app.authenticate, header }
}

// A fresh request object per call, with the header as a new string each time, as an HTTP parser would give it.
async function perCall (hook, header) {
  const started = process.hrtime.bigint()
  for (let i = 0; i < CALLS; i++) {
    const request = { headers: { host: 'x', authorization: header.slice(0, 7) + header.slice(7) }, raw: { rawHeaders: ['Host', 'x', 'Authorization', header] }, auth: null, user: null }
    const pending = hook(request, {})
    if (request.auth === null) throw new Error('not authenticated synchronously')
    if (i % 1000 === 0) await pending
  }
  return Number(process.hrtime.bigint() - started) / CALLS
}

const memory = await hookOf(memoryStore())
const mirrored = await hookOf(redisStore({ url: `redis://127.0.0.1:${port}` }))
const empty = async (request) => { request.auth = true }
const results = { 'empty async hook': [], 'authenticate, memory store': [], 'authenticate, Redis store (mirror)': [] }
for (let round = 0; round < ROUNDS; round++) {
  results['empty async hook'].push(await perCall(empty, memory.header))
  results['authenticate, memory store'].push(await perCall(memory.hook, memory.header))
  results['authenticate, Redis store (mirror)'].push(await perCall(mirrored.hook, mirrored.header))
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
console.log(`${CALLS} calls x ${ROUNDS} rounds, ns per call (median; min-max)`)
for (const [name, values] of Object.entries(results)) console.log(`${name}: ${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)})`)
console.log(`authenticate beyond the empty hook: memory ${(median(results['authenticate, memory store']) - median(results['empty async hook'])).toFixed(0)} ns, Redis ${(median(results['authenticate, Redis store (mirror)']) - median(results['empty async hook'])).toFixed(0)} ns`)
await memory.app.close()
await mirrored.app.close()
await mirrored.app.jwtAuth.store.close()
redis.kill('SIGKILL')
