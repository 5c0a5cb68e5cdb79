// node --expose-gc bench/memory-store.mjs: heap used by one million revocation
// markers in the memory store, the cost of a lookup among them, and whether
// expired ones are freed.
import { memoryStore } from '../dist/esm/index.js'

// BENCH_SMOKE=1: a few iterations only, so the test suite can check that the script still runs.
const SMOKE = process.env.BENCH_SMOKE === '1'
const COUNT = Number(process.env.COUNT ?? (SMOKE ? 2_000 : 1_000_000))
const gc = globalThis.gc ?? (() => { throw new Error('run with node --expose-gc') })
const mb = (bytes) => (bytes / 1048576).toFixed(1)

gc()
const before = process.memoryUsage().heapUsed
const store = memoryStore({ maxEntries: COUNT + 10 })
const fam = (i) => `${String(i).padStart(8, '0')}-4f1c-4b8e-9d2a-7c3e5b6a9f01` // a family id is a UUID
const { revocations } = store
for (let i = 0; i < COUNT; i++) await revocations.raise('family', fam(i), 1, i < COUNT / 2 ? 1 : 3600)
gc()
const filled = process.memoryUsage().heapUsed
console.log(`${COUNT} entries: heap +${mb(filled - before)} MB (${((filled - before) / COUNT).toFixed(0)} bytes each)`)

for (const n of [1000, COUNT]) {
  const probes = SMOKE ? 2_000 : 200_000
  const started = process.hrtime.bigint()
  let hits = 0
  for (let i = 0; i < probes; i++) if (revocations.peek('family', fam((i * 7919) % n)) !== null) hits++
  const ns = Number(process.hrtime.bigint() - started) / probes
  console.log(`lookup among ${n} entries: ${ns.toFixed(0)} ns (${hits} hits)`)
}

await new Promise((resolve) => setTimeout(resolve, 1100)) // half of them expire
store.sweep()
gc()
console.log(`after expiry and sweep: ${store.size} entries, heap +${mb(process.memoryUsage().heapUsed - before)} MB`)
await store.close()
