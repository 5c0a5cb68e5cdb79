// The ports the plugin builds on a store of the key-value shape, method by method.
import t from 'tap'
import { fromKeyValue } from '../lib/stores/key-value.js'
import { fakeClock } from './helpers/clock.js'
import { keyValueStore } from './helpers/kv-store.js'

const rotation = (jti: string, next: string, graceSeconds = 10) => ({
  family: 'f', jti, next: { jti: next, record: `record-of-${next}` }, successor: `successor-of-${jti}`, ttlSeconds: 60, graceSeconds, generation: 1
})

t.test('rotate: live, then spent for what is left of the grace, then unknown', async (t) => {
  const clock = fakeClock(t)
  const kv = keyValueStore()
  const { refreshTokens } = fromKeyValue(kv, { indexTtlSeconds: 60 })
  await refreshTokens.create('f', 'a', 'r', 60)
  t.same(await refreshTokens.rotate(rotation('a', 'b')), { state: 'live', record: 'r' })
  clock.now += 4000
  t.same(await refreshTokens.rotate(rotation('a', 'c')), { state: 'spent', successor: 'successor-of-a' }, 'a second rotation only looks')
  t.equal(await refreshTokens.find('f', 'c'), null, 'and writes no successor')
  t.ok(kv.entries.get('rt:a')!.expiresAt <= Date.now() + 6000, 'put back with what was left of the grace, not a new one')
  t.same(await refreshTokens.find('f', 'a'), { state: 'spent', successor: 'successor-of-a' })
  clock.now += 6001
  t.equal(await refreshTokens.find('f', 'a'), null, 'the grace is over')
  t.equal(await refreshTokens.rotate(rotation('a', 'd')), null)
  await refreshTokens.rotate(rotation('b', 'e', 0))
  t.equal(await refreshTokens.find('f', 'b'), null, 'grace 0: forgotten at once')
  await kv.set('rt:g', `S${Date.now() - 1} successor`, 60) // a store that expires coarsely still holds it
  t.equal(await refreshTokens.find('f', 'g'), null, 'a spent token past its grace is unknown')
})

t.test('counters without increment are read then written; with it, the store counts', async (t) => {
  const plain = fromKeyValue(keyValueStore(), { indexTtlSeconds: 60 })
  t.equal(await plain.counters.increment('n', 60), 1)
  t.equal(await plain.counters.increment('n', 60), 2)
  await plain.counters.reset('n')
  t.equal(await plain.counters.increment('n', 60), 1)
  const kv = keyValueStore({ atomic: true })
  const atomic = fromKeyValue(kv, { indexTtlSeconds: 60 })
  t.equal(await atomic.counters.increment('n', 60), 1)
  t.equal(await atomic.counters.increment('n', 60), 2)
  t.equal(kv.kinds.get('lf:n'), undefined, 'the store\'s own increment wrote it')
  t.equal(await plain.locks.lockedUntil('x'), null)
  await plain.locks.lock('x', 5, 60)
  t.equal(await plain.locks.lockedUntil('x'), 5)
})

t.test('challenges are ephemeral; markers and tokens durable; close reaches the store', async (t) => {
  const kv = keyValueStore({ atomic: true })
  const store = fromKeyValue(kv, { indexTtlSeconds: 60 })
  await store.challenges.put('c', 'v', 60)
  t.equal(kv.kinds.get('ch:c'), 'ephemeral')
  t.equal(await store.challenges.take('c'), 'v')
  await store.refreshTokens.create('f', 'a', 'r', 60)
  t.equal(kv.kinds.get('rt:a'), 'durable')
  const plain = keyValueStore()
  const ports = fromKeyValue(plain, { indexTtlSeconds: 60 })
  await ports.revocations.raise('family', 'f', 10, 60)
  t.equal(plain.kinds.get('fam:f'), 'durable')
  t.equal(await ports.revocations.raise('family', 'f', 5, 60), 11, 'read then written: max(current + 1, floor)')
  t.equal(ports.close, undefined, 'a store without close has none')
  await store.close!()
  t.same(await store.sessions.list('u'), {}, 'the atomic helper dropped its hashes')
})
