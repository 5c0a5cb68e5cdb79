// node bench/route-guard.mjs (after npm run build): what the early-route guard (lib/request/route-checks.ts) adds
// to each request of the plugin's own instance: its onRequest hook, called outside HTTP with a real Fastify request
// of a checked route (it reads request.routeOptions, a getter that builds an object each time). An empty callback
// hook is the floor. No sockets, so little noise.
import Fastify from 'fastify'
import { installRouteChecks } from '../dist/esm/request/route-checks.js'

// BENCH_SMOKE=1: a few iterations only, so the test suite can check that the script still runs.
const SMOKE = process.env.BENCH_SMOKE === '1'
const CALLS = SMOKE ? 2_000 : 2_000_000
const ROUNDS = SMOKE ? 1 : 5

const app = Fastify()
const hooks = {}
const addHook = app.addHook.bind(app)
app.addHook = (name, hook) => { hooks[name] = hook; return addHook(name, hook) }
installRouteChecks(app)
let captured
app.get('/checked', async (request, reply) => { captured = { request, reply }; return 'ok' })
await app.inject('/checked')
const { request, reply } = captured

function perCall (hook) {
  let passed = 0
  const done = (error) => { if (error === undefined) passed++ }
  const started = process.hrtime.bigint()
  for (let i = 0; i < CALLS; i++) hook.call(app, request, reply, done)
  const ns = Number(process.hrtime.bigint() - started) / CALLS
  if (passed !== CALLS) throw new Error(`the guard refused a checked route ${CALLS - passed} times`)
  return ns
}

const empty = function (request, reply, done) { done() }
const results = { 'empty hook': [], 'early-route guard': [] }
for (let round = 0; round < ROUNDS; round++) {
  results['empty hook'].push(perCall(empty))
  results['early-route guard'].push(perCall(hooks.onRequest))
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
console.log(`${CALLS} calls x ${ROUNDS} rounds, ns per call (median; min-max)`)
for (const [name, values] of Object.entries(results)) {
  console.log(`${name}: ${median(values).toFixed(1)} (${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)})`)
}
console.log(`the guard beyond the empty hook: ${(median(results['early-route guard']) - median(results['empty hook'])).toFixed(1)} ns`)
await app.close()
