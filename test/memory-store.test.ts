import t from 'tap'
import { memoryStore, type Rotation } from '../lib/index.js'
import { fakeClock } from './helpers/clock.js'

const rotation = (jti: string, next: string, extra: Partial<Rotation> = {}): Rotation => ({
  family: 'f',
  jti,
  next: { jti: next, record: `record-of-${next}` },
  successor: `successor-of-${jti}`,
  ttlSeconds: 60,
  graceSeconds: 10,
  generation: 1,
  ...extra
})

t.test('revocations: markers only grow, their lifetime is only extended, peek answers locally', async (t) => {
  const clock = fakeClock(t)
  const store = memoryStore()
  t.teardown(() => store.close())
  t.equal(await store.revocations.raise('user', '1', 1000, 60), 1000)
  t.equal(await store.revocations.raise('user', '1', 5, 1), 1001, 'never lower than the value it had, plus one')
  t.equal(await store.revocations.raise('user', '1', 5000, 1), 5000)
  t.equal(await store.revocations.read('family', '1'), null, 'a family marker is another marker')
  clock.now += 2000
  t.equal(await store.revocations.read('user', '1'), '5000', 'a shorter ttl did not shorten the first one')
  t.equal(store.revocations.peek!('user', '1'), '5000')
  t.equal(store.revocations.peek!('user', '2'), null)
  clock.now += 60_000
  t.equal(await store.revocations.read('user', '1'), null, 'gone after its ttl')
  await t.rejects(store.revocations.raise('family', 'x', 1, 0), /ttlSeconds must be a positive number/)
})

t.test('refresh tokens: live, then spent with the successor for the grace, then unknown', async (t) => {
  const clock = fakeClock(t)
  const store = memoryStore()
  t.teardown(() => store.close())
  await store.refreshTokens.create('f', 'a', 'record-a', 60)
  t.same(await store.refreshTokens.find('f', 'a'), { state: 'live', record: 'record-a' })
  t.equal(await store.refreshTokens.find('other', 'a'), null, 'keyed by family and id')
  t.same(await store.refreshTokens.rotate(rotation('a', 'b')), { state: 'live', record: 'record-a' }, 'this call spent it')
  t.same(await store.refreshTokens.find('f', 'b'), { state: 'live', record: 'record-of-b' }, 'the successor is live')
  t.same(await store.refreshTokens.rotate(rotation('a', 'c')), { state: 'spent', successor: 'successor-of-a' }, 'a second rotation only reads')
  t.equal(await store.refreshTokens.find('f', 'c'), null, 'and writes nothing')
  clock.now += 10_001
  t.equal(await store.refreshTokens.find('f', 'a'), null, 'the grace is over')
  t.equal(await store.refreshTokens.rotate(rotation('a', 'd')), null)
  t.equal(await store.refreshTokens.rotate(rotation('missing', 'e')), null)

  await store.refreshTokens.rotate(rotation('b', 'g', { graceSeconds: 0 }))
  t.equal(await store.refreshTokens.find('f', 'b'), null, 'grace 0: forgotten at once')
  await store.refreshTokens.rotate(rotation('g', 'h'))
  await store.refreshTokens.rotate(rotation('h', 'i', { parent: 'g' }))
  t.equal(await store.refreshTokens.find('f', 'g'), null, 'the successor was used: the parent\'s grace ended')
  await store.refreshTokens.rotate(rotation('i', 'j', { parent: 'live-one' }))
  await store.refreshTokens.create('f', 'live-one', 'x', 60)
  await store.refreshTokens.rotate(rotation('j', 'k', { parent: 'live-one' }))
  t.same(await store.refreshTokens.find('f', 'live-one'), { state: 'live', record: 'x' }, 'a live parent is not removed')
  await store.refreshTokens.discard('f', 'k')
  t.equal(await store.refreshTokens.find('f', 'k'), null)
  clock.now += 61_000
  t.equal(await store.refreshTokens.find('f', 'live-one'), null, 'expired')
})

t.test('concurrent rotations of one token: exactly one sees it live', async (t) => {
  const store = memoryStore()
  t.teardown(() => store.close())
  await store.refreshTokens.create('f', 'a', 'r', 60)
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.refreshTokens.rotate(rotation('a', `n${i}`))))
  t.equal(results.filter((result) => result?.state === 'live').length, 1)
  t.equal(results.filter((result) => result?.state === 'spent').length, 49)
})

t.test('session index: one entry per user with its fields', async (t) => {
  const store = memoryStore()
  t.teardown(() => store.close())
  for (let i = 0; i < 20_000; i++) await store.sessions.put('1', `f${i}`, 'x', 60)
  t.equal(Object.keys(await store.sessions.list('1')).length, 20_000)
  t.equal(store.size, 1, 'one entry')
  await store.sessions.remove('1', 'f0')
  t.equal(Object.keys(await store.sessions.list('1')).length, 19_999)
  await store.sessions.remove('missing', 'f')
  await store.sessions.put('2', 'a', '1', 60)
  await store.sessions.remove('2', 'a')
  t.equal(store.size, 1, 'an index without sessions is gone')
  await store.sessions.clear('1')
  t.same(await store.sessions.list('1'), {})
})

t.test('counters: a window from the first increment, reset; locks', async (t) => {
  const clock = fakeClock(t)
  const store = memoryStore()
  t.teardown(() => store.close())
  t.equal(await store.counters.increment('n', 10), 1)
  const counts = await Promise.all(Array.from({ length: 20 }, () => store.counters.increment('n', 10)))
  t.same(counts.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 2), 'atomic: no two alike')
  clock.now += 9000
  t.equal(await store.counters.increment('n', 10), 22, 'the window is not extended')
  clock.now += 1001
  t.equal(await store.counters.increment('n', 10), 1, 'a new window after expiry')
  await store.counters.reset('n')
  t.equal(await store.counters.increment('n', 10), 1)
  await t.rejects(store.counters.increment('fresh', 0), /ttlSeconds/)

  t.equal(await store.locks.lockedUntil('bob'), null)
  await store.locks.lock('bob', 123, 5)
  t.equal(await store.locks.lockedUntil('bob'), 123)
  clock.now += 5001
  t.equal(await store.locks.lockedUntil('bob'), null)
})

t.test('challenges: one-time, expiring', async (t) => {
  const clock = fakeClock(t)
  const store = memoryStore()
  t.teardown(() => store.close())
  await store.challenges.put('c', 'answer', 5)
  const takes = await Promise.all(Array.from({ length: 10 }, () => store.challenges.take('c')))
  t.same(takes.filter((value) => value !== null), ['answer'], 'only one take sees it')
  await store.challenges.put('d', 'x', 5)
  clock.now += 5001
  t.equal(await store.challenges.take('d'), null)
  t.equal(await store.challenges.take('never'), null)
})

t.test('kinds: a flood of ephemeral entries evicts the oldest of its kind and never a durable one', async (t) => {
  const store = memoryStore({ maxEntries: 5, maxEphemeralEntries: 100 })
  t.teardown(() => store.close())
  await store.refreshTokens.create('f', 'a', 'r', 60)
  await store.revocations.raise('family', 'g', 1, 60)
  await store.challenges.put('first', 'x', 60)
  await store.counters.increment('in-use', 60)
  for (let i = 0; i < 10_000; i++) await store.challenges.put(`flood${i}`, 'x', 60)
  t.equal(store.ephemeralSize, 101, 'a hundred challenges, and the counter: each kind bounded apart')
  t.equal(await store.challenges.take('first'), null, 'the oldest went first')
  t.equal(await store.challenges.take('flood9999'), 'x', 'the newest stayed')
  t.equal(await store.counters.increment('in-use', 60), 2, 'a captcha flood never touches a counter')
  for (let i = 0; i < 1000; i++) {
    await store.counters.increment(`random-name-${i}`, 60)
    // A counter in use moves to the young end: it is the last to go.
    if (i % 50 === 0) await store.counters.increment('in-use', 60)
  }
  t.equal(await store.counters.increment('in-use', 60), 23, 'a counter in use survived a flood of counters')
  t.equal(await store.counters.increment('random-name-0', 60), 1, 'older counters went first')
  t.same(await store.refreshTokens.find('f', 'a'), { state: 'live', record: 'r' }, 'durable entries untouched')
  t.equal(await store.revocations.read('family', 'g'), '1')
})

t.test('kinds: a full durable space refuses new logins and locks, never revocations or rotations', async (t) => {
  const clock = fakeClock(t)
  const store = memoryStore({ maxEntries: 3, maxEphemeralEntries: 10 })
  t.teardown(() => store.close())
  await store.refreshTokens.create('f', 'a', 'r', 10)
  await store.refreshTokens.create('f', 'b', 'r', 100)
  await store.locks.lock('x', 1, 100)
  await t.rejects(store.refreshTokens.create('f', 'c', 'r', 100), { code: 'FST_JWT_AUTH_STORE_FULL', statusCode: 503 })
  await t.rejects(store.locks.lock('y', 1, 100), { code: 'FST_JWT_AUTH_STORE_FULL' })
  await store.locks.lock('x', 2, 100) // an existing lock is rewritten in place
  t.equal(await store.locks.lockedUntil('x'), 2)
  t.equal(await store.revocations.raise('family', 'f', 1, 100), 1, 'a revocation always finds room')
  t.equal(await store.revocations.raise('user', 'u', 1, 100), 1)
  t.same(await store.refreshTokens.rotate(rotation('b', 'b2')), { state: 'live', record: 'r' }, 'a rotation always finds room')
  await store.sessions.put('u', 'f', 's', 100)
  await store.challenges.put('c', 'x', 100)
  t.equal(await store.challenges.take('c'), 'x', 'the ephemeral space is apart')
  await t.rejects(store.refreshTokens.create('f', 'd', 'r', 100), { code: 'FST_JWT_AUTH_STORE_FULL' }, 'refused again without a second sweep within the second')
  clock.now += 101_000
  await store.refreshTokens.create('f', 'd', 'r', 100)
  t.same(await store.refreshTokens.find('f', 'd'), { state: 'live', record: 'r' }, 'room made by dropping expired entries')
})

t.test('user invalidations reach every listener of the store at once', async (t) => {
  const store = memoryStore()
  t.teardown(() => store.close())
  const heard: Array<string | null> = []
  store.userInvalidations.listen((id) => heard.push(`a:${String(id)}`))
  store.userInvalidations.listen((id) => heard.push(`b:${String(id)}`))
  await store.userInvalidations.publish('7')
  t.same(heard, ['a:7', 'b:7'])
  t.equal(store.userInvalidations.live, true)
})

t.test('expired entries are swept', async (t) => {
  const clock = fakeClock(t)
  const store = memoryStore({ sweepInterval: 0.01 })
  t.teardown(() => store.close())
  await store.refreshTokens.create('f', 'a', 'r', 1)
  await store.challenges.put('c', 'x', 1)
  t.equal(store.size + store.ephemeralSize, 2)
  clock.now += 2000
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(store.size + store.ephemeralSize, 0, 'the periodic sweep dropped both')
})

t.test('options are checked', async (t) => {
  t.throws(() => memoryStore({ maxEntries: 0 }), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /maxEntries must be a positive integer/ })
  t.throws(() => memoryStore({ maxEntries: 1.5 }), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /maxEntries/ })
  t.throws(() => memoryStore({ maxEphemeralEntries: -1 }), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /maxEphemeralEntries must be a positive integer/ })
  t.throws(() => memoryStore({ sweepInterval: 0 }), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /sweepInterval must be a positive number/ })
  t.throws(() => memoryStore({ maxEntry: 5 } as never), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /memoryStore: unknown option maxEntry/ })
  t.throws(() => memoryStore(null as never), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /options must be an object/ })
  const store = memoryStore()
  t.teardown(() => store.close())
  await t.rejects(store.challenges.put('a', '1', Infinity), /ttlSeconds/)
  await t.rejects(store.refreshTokens.create('f', 'a', '1', Number.NaN), /ttlSeconds/)
})
