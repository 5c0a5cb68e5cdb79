// node --expose-gc bench/mirror-memory.mjs (after npm run build): the heap one million revocation markers take in
// the Redis store's local mirror (the subscriber never connects; the markers arrive as its messages would).
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { StoreSubscription } from '../dist/esm/stores/mirror.js'

// BENCH_SMOKE=1: a few markers only, so the test suite can check that the script still runs.
const COUNT = process.env.BENCH_SMOKE === '1' ? 2_000 : 1_000_000
const gc = globalThis.gc ?? (() => { throw new Error('run with node --expose-gc') })
const subscriber = new Redis({ lazyConnect: true })
// A copy source makes it keep a copy of the markers, as the store's mirror does.
const copy = { snapshot: async () => {}, restore: async () => {} }
const mirror = new StoreSubscription({ subscriber, channel: 'x', copy, staleAfterMs: 60_000 })
gc(); const before = process.memoryUsage().heapUsed
const expiresAt = Date.now() + 3_600_000
// As the subscription delivers them: one message per marker, `<expiresAt> <value> <field>`.
for (let i = 0; i < COUNT; i++) subscriber.emit('message', 'x', `${expiresAt} ${expiresAt - 3_600_000 + i} fam:${randomUUID()}`)
gc(); const after = process.memoryUsage().heapUsed
console.log(`${mirror.size} markers in the mirror: heap +${((after - before) / 1e6).toFixed(1)} MB (${Math.round((after - before) / COUNT)} bytes each, key strings included)`)
if (mirror.size !== COUNT) throw new Error(`the mirror holds ${mirror.size} markers, not ${COUNT}: the message format changed`)
mirror.close()
