// node bench/durability-cost.mjs (after npm run build): what redisStore({ replicas: 1 }) costs a logout and a
// refresh: p50 and p99 latency, one request at a time, on a master with one replica on loopback (its own
// redis-servers), without and with the WAIT behind each revocation and rotation.
import Fastify from 'fastify'
import jwtAuth from '../dist/esm/index.js'
import { redisStore } from '../dist/esm/redis.js'
import { sentinelTopology } from './lib/sentinel.mjs'

// BENCH_SMOKE=1: a few operations only, so the test suite can check that the script still runs.
const OPS = process.env.BENCH_SMOKE === '1' ? 50 : 3_000
const topology = await sentinelTopology()
const url = `redis://127.0.0.1:${topology.master().port}`

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
async function measure (replicas) {
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: 'bench-secret-bench-secret-bench-secret!!',
    store: redisStore({ url, replicas }),
    users: { findById: async (id) => ({ id }) }
  })
  await app.ready()
  const pairs = []
  for (let i = 0; i < OPS; i++) pairs.push(await app.jwtAuth.issue({ id: `user${i}` }))
  const timed = async (operation) => {
    const times = []
    for (const pair of pairs) {
      const started = process.hrtime.bigint()
      await operation(pair)
      times.push(Number(process.hrtime.bigint() - started) / 1000)
    }
    return times.sort((a, b) => a - b)
  }
  const refresh = await timed((pair) => app.jwtAuth.refresh(pair.refreshToken))
  const logout = await timed((pair) => app.jwtAuth.revoke(pair.accessToken))
  await app.close()
  return { refresh, logout }
}

console.log(`${OPS} operations of each kind, one at a time; µs`)
console.log('| operation | replicas | p50 | p99 |\n|---|---|---|---|')
for (const replicas of [0, 1]) {
  const results = await measure(replicas)
  for (const [name, times] of Object.entries(results)) {
    console.log(`| ${name} | ${replicas} | ${percentile(times, 0.5).toFixed(0)} | ${percentile(times, 0.99).toFixed(0)} |`)
  }
}
topology.stop()
