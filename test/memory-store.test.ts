import t from 'tap'
import { memoryStore } from '../lib/index.js'
import { fakeClock } from './helpers/clock.js'

t.test('set, get, take, delete', async (t) => {
  const store = memoryStore()
  t.teardown(() => store.close())
  await store.set('a', '1', 60)
  t.equal(await store.get('a'), '1')
  t.equal(await store.get('missing'), null)
  t.equal(await store.take('a'), '1')
  t.equal(await store.take('a'), null, 'take deletes')
  t.equal(await store.get('a'), null)
  await store.set('b', '2', 60)
  await store.delete('b')
  t.equal(await store.get('b'), null)
  await store.delete('never-set')
})

t.test('take is atomic: of concurrent takes exactly one sees the value', async (t) => {
  const store = memoryStore()
  t.teardown(() => store.close())
  await store.set('k', 'v', 60)
  const results = await Promise.all(Array.from({ length: 50 }, () => store.take('k')))
  t.equal(results.filter((value) => value === 'v').length, 1)
})

t.test('entries expire after their ttl and the sweep frees them', async (t) => {
  const clock = fakeClock(t, 1_000_000)
  const store = memoryStore()
  t.teardown(() => store.close())
  await store.set('short', 'x', 1)
  await store.set('long', 'y', 100)
  clock.now += 999
  t.equal(await store.get('short'), 'x', 'alive just before its ttl')
  clock.now += 1
  t.equal(await store.get('short'), null, 'gone at its ttl')
  t.equal(await store.take('short'), null)
  await store.set('other', 'z', 1)
  clock.now += 5000
  t.equal(store.size, 2, 'expired entries linger until read or swept')
  store.sweep()
  t.equal(store.size, 1, 'the sweep dropped the expired entry')
  t.equal(await store.get('long'), 'y')
})

t.test('the periodic sweep runs on its own and never keeps the process alive', async (t) => {
  const store = memoryStore({ sweepInterval: 0.05 })
  t.teardown(() => store.close())
  await store.set('a', '1', 0.01)
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.equal(store.size, 0)
})

t.test('bounded: a full store refuses new keys rather than evicting live ones', async (t) => {
  const clock = fakeClock(t, 5_000_000)
  const store = memoryStore({ maxEntries: 3 })
  t.teardown(() => store.close())
  await store.set('a', '1', 10)
  await store.set('b', '1', 10)
  await store.set('c', '1', 100)
  await t.rejects(store.set('d', '1', 10), { code: 'FST_JWT_AUTH_STORE_FULL', statusCode: 503 })
  await store.set('a', '2', 10) // overwriting an existing key is fine
  t.equal(await store.get('a'), '2')
  await t.rejects(store.set('d', '1', 10), { code: 'FST_JWT_AUTH_STORE_FULL' }, 'refused again without a second sweep within the second')
  clock.now += 11_000 // a and b expire
  await store.set('d', '1', 10)
  t.equal(await store.get('d'), '1', 'room made by dropping expired entries')
  t.equal(await store.get('c'), '1', 'the live entry was kept')
})

t.test('bad arguments are refused', async (t) => {
  t.throws(() => memoryStore({ maxEntries: 0 }), /maxEntries must be a positive integer/)
  t.throws(() => memoryStore({ maxEntries: 1.5 }), /maxEntries/)
  t.throws(() => memoryStore({ sweepInterval: 0 }), /sweepInterval must be a positive number/)
  t.throws(() => memoryStore({ sweepInterval: 'x' as unknown as number }), /sweepInterval/)
  const store = memoryStore()
  t.teardown(() => store.close())
  await t.rejects(store.set('a', '1', 0), /ttlSeconds must be a positive number/)
  await t.rejects(store.set('a', '1', Infinity), /ttlSeconds/)
  await t.rejects(store.set('a', '1', Number.NaN), /ttlSeconds/)
})

t.test('increment: an atomic counter with the ttl of its first write', async (t) => {
  const clock = fakeClock(t, 9_000_000)
  const store = memoryStore()
  t.teardown(() => store.close())
  t.equal(await store.increment('n', 10), 1)
  t.equal(await store.increment('n', 10), 2)
  const counts = await Promise.all(Array.from({ length: 20 }, () => store.increment('n', 10)))
  t.same(counts.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 3), 'no two increments see the same count')
  t.equal(await store.get('n'), '22')
  clock.now += 9_000
  t.equal(await store.increment('n', 10), 23, 'the window is not extended')
  clock.now += 1_000
  t.equal(await store.increment('n', 10), 1, 'a new window after expiry')
  await store.set('text', 'abc', 10)
  t.equal(await store.increment('text', 10), 1, 'a non-numeric value counts from 0')
  await t.rejects(store.increment('fresh', 0), /ttlSeconds/)
})

t.test('advance: max(current + 1, floor), the ttl only extended', async (t) => {
  const store = memoryStore()
  t.teardown(() => store.close())
  t.equal(await store.advance('usr:1', 1000, 60), 1000)
  t.equal(await store.advance('usr:1', 5, 1), 1001, 'never lower than the value it had, plus one')
  t.equal(await store.advance('usr:1', 5000, 1), 5000)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal(await store.get('usr:1'), '5000', 'a shorter ttl did not shorten the first one')
})

t.test('hashes: fields kept in a Map per key (no re-encoding of the whole hash per field)', async (t) => {
  const store = memoryStore()
  t.teardown(() => store.close())
  for (let i = 0; i < 20_000; i++) await store.hset('ses:1', `f${i}`, 'x', 60)
  t.equal(Object.keys(await store.hgetall('ses:1')).length, 20_000)
  t.equal(store.size, 1, 'one entry')
  await store.set('plain', 'v', 60)
  await store.hdel('plain', 'f') // not a hash: nothing to do
  t.equal(await store.get('plain'), 'v')
  await store.hdel('missing', 'f')
  await store.hset('one', 'a', '1', 60)
  await store.hdel('one', 'a')
  t.equal(store.size, 2, 'a hash without fields is gone')
  t.same(await store.hgetall('plain'), {}, 'a plain value has no fields')
})
