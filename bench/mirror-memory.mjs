// node --expose-gc bench/mirror-memory.mjs (after npm run build): the heap one million revocation markers take in
// the Redis store's local mirror (the subscriber never connects; the markers arrive as its messages would).
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { RevocationMirror } from '../dist/esm/stores/mirror.js'

const COUNT = 1_000_000
const subscriber = new Redis({ lazyConnect: true })
const mirror = new RevocationMirror({ subscriber, channel: 'x', snapshot: async () => ({}), staleAfterMs: 60_000 })
globalThis.gc(); const before = process.memoryUsage().heapUsed
const expiresAt = Date.now() + 3_600_000
// As the subscription delivers them: one message per marker, `<field> <expiresAt> <value>`.
for (let i = 0; i < COUNT; i++) subscriber.emit('message', 'x', `fam:${randomUUID()} ${expiresAt} ${expiresAt - 3_600_000 + i}`)
globalThis.gc(); const after = process.memoryUsage().heapUsed
console.log(`${mirror.size} markers in the mirror: heap +${((after - before) / 1e6).toFixed(1)} MB (${Math.round((after - before) / COUNT)} bytes each, key strings included)`)
mirror.close()
