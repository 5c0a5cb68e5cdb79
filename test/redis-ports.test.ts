// The Redis store's ports, at store level, on a single Redis and on a
// 3-master Cluster: what each writes (keys, values, TTLs), atomicity across
// store instances, the bound on ephemeral entries, user invalidations over
// pub/sub, and the eviction-policy check. Real redis-server processes only.
import { Cluster, Redis } from 'ioredis'
import t from 'tap'
import { REDIS_STORE } from '../lib/stores/brand.js'
import { redisStore, type RedisStore, type RedisStoreOptions } from '../lib/stores/redis.js'
import type { RefreshState, Rotation } from '../lib/stores/types.js'
import { eventually } from './helpers/eventually.js'
import { startCluster, startRedis } from './helpers/redis.js'

type Teardown = { teardown: (fn: () => unknown) => void }
type StoreOptions = Omit<RedisStoreOptions, 'client' | 'url' | 'redisOptions' | 'cluster'>

interface Target {
  name: string
  open: (options: StoreOptions) => RedisStore
  admin: Redis | Cluster
  /** The admin connection of every master (one on a single Redis). */
  masters: () => Redis[]
}

const single = await startRedis()
t.teardown(() => single.stop())
const cluster = await startCluster()
t.teardown(() => cluster.stop())
const singleAdmin = new Redis(single.url)
t.teardown(() => singleAdmin.disconnect())
const clusterAdmin = new Cluster(cluster.nodes)
t.teardown(() => clusterAdmin.disconnect())
await new Promise((resolve) => clusterAdmin.once('ready', resolve))

const targets: Target[] = [
  {
    name: 'redis',
    open: (options) => redisStore({ url: single.url, ...options }),
    admin: singleAdmin,
    masters: () => [singleAdmin]
  },
  {
    name: 'cluster',
    open: (options) => redisStore({ cluster: { nodes: cluster.nodes }, ...options }),
    admin: clusterAdmin,
    masters: () => clusterAdmin.nodes('master')
  }
]

let prefixes = 0
const sleep = (ms: number): Promise<unknown> => new Promise((resolve) => setTimeout(resolve, ms))

/** A store closed at teardown; a fresh key prefix unless one is given. */
function storeOn (t: Teardown, target: Target, options: StoreOptions = {}): RedisStore {
  const store = target.open({ keyPrefix: `${target.name}${++prefixes}:`, ...options })
  t.teardown(() => store.close())
  return store
}

/** Every key under a prefix, over every master. */
async function keysOf (target: Target, prefix: string): Promise<string[]> {
  const perNode = await Promise.all(target.masters().map((node) => node.keys(`${prefix}*`)))
  return perNode.flat().sort()
}

/** A PTTL within `slackMs` below `ms` (time passes between the write and the check). */
type Ok = { ok: (value: unknown, message: string) => void }

function near (t: Ok, pttl: number, ms: number, what: string, slackMs = 1500): void {
  t.ok(pttl <= ms && pttl > ms - slackMs, `${what}: PTTL ${pttl} ms, expected about ${ms} ms`)
}

const rotation = (family: string, jti: string, next: string, extra: Partial<Rotation> = {}): Rotation => ({
  family,
  jti,
  next: { jti: next, record: `record-${next}` },
  successor: `successor-${next}`,
  ttlSeconds: 60,
  graceSeconds: 30,
  generation: 1,
  ...extra
})

for (const target of targets) {
  const { admin } = target

  t.test(`${target.name}: revocations keep the marker index: raise, read, peek, TTL never shortened`, async (t) => {
    const store = storeOn(t, target)
    const { revocations } = store
    const prefix = store.keyPrefix
    t.equal(await revocations.raise('family', 'f1', 1000, 60), 1000, 'the floor on a first raise')
    t.equal(await revocations.raise('family', 'f1', 10, 60), 1001, 'max(current + 1, floor)')
    t.equal(await revocations.raise('family', 'f1', 5000, 30), 5000)
    t.equal(await revocations.raise('user', 'u 1', 7.9, 120), 7, 'floors are whole numbers')
    t.equal(await revocations.read('family', 'f1'), '5000')
    t.equal(await revocations.read('user', 'u 1'), '7')
    t.equal(await revocations.read('user', 'f1'), null, 'scopes are apart')
    t.equal(await revocations.read('family', 'unknown'), null)

    const values = await admin.hgetall(`${prefix}{revocations}:values`)
    t.same(Object.keys(values).sort(), ['fam:f1', 'usr:u 1'], 'fields fam:<id> and usr:<id> of one hash')
    const [expiresAt, value] = values['fam:f1']!.split(' ')
    t.equal(value, '5000')
    near(t, Number(expiresAt) - Date.now(), 60_000, 'the 30 s raise kept the 60 s expiry')
    t.equal(Number(await admin.zscore(`${prefix}{revocations}:expiries`, 'fam:f1')), Number(expiresAt), 'its expiry indexed')
    near(t, await admin.pttl(`${prefix}{revocations}:values`), 120_000, 'the index lives as long as its newest marker')
    near(t, await admin.pttl(`${prefix}{revocations}:expiries`), 120_000, 'so does its sorted set')

    t.ok(await eventually(() => store.mirrorSynced, 3000), 'the mirror syncs')
    t.equal(revocations.peek!('family', 'f1'), '5000', 'peek answers from the copy')
    t.equal(revocations.peek!('user', 'u 1'), '7')
    t.equal(revocations.peek!('family', 'unknown'), null)
    t.equal(await revocations.raise('family', 'f1', 0, 60), 5001)
    t.equal(revocations.peek!('family', 'f1'), '5001', 'read-your-writes: at once after raise')

    await revocations.raise('family', 'short', 1, 0.05)
    t.equal(await revocations.read('family', 'short'), '1')
    await sleep(80)
    t.equal(await revocations.read('family', 'short'), null, 'expired in Redis')
    t.equal(revocations.peek!('family', 'short'), null, 'and in the copy')

    await t.rejects(revocations.raise('family', 'x', 1, 0),
      { name: 'TypeError', message: /ttlSeconds must be a positive number/ })
    await t.rejects(revocations.raise('family', 'x', 1, Infinity), TypeError)
    await t.rejects(revocations.raise('family', 'x', Number.NaN, 60), /floor must be a finite number/)
    t.equal(await revocations.read('family', 'x'), null, 'nothing written by a refused raise')

    const without = storeOn(t, target, { keyPrefix: prefix, mirror: false })
    t.equal(await without.revocations.read('family', 'f1'), '5001', 'the same index without a mirror')
    t.equal(without.revocations.peek!('family', 'f1'), undefined, 'no mirror: peek never answers')
  })

  t.test(`${target.name}: refresh tokens: one key per token, the family as hash tag, live and spent`, async (t) => {
    const store = storeOn(t, target)
    const tokens = store.refreshTokens
    const key = (family: string, jti: string): string => `${store.keyPrefix}rt:{${family}}:${jti}`
    await tokens.create('fam1', 'a', 'record-a', 60)
    t.equal(await admin.get(key('fam1', 'a')), 'Lrecord-a')
    near(t, await admin.pttl(key('fam1', 'a')), 60_000, 'create')
    t.same(await tokens.find('fam1', 'a'), { state: 'live', record: 'record-a' })
    t.equal((await tokens.find('fam1', 'b'))?.state, 'absent')
    t.equal((await tokens.find('fam2', 'a'))?.state, 'absent', 'a token belongs to its family')

    t.same(await tokens.rotate(rotation('fam1', 'a', 'b')), { state: 'live', record: 'record-a' },
      'rotate returns the state before')
    t.equal(await admin.get(key('fam1', 'b')), 'Lrecord-b', 'the successor is live')
    near(t, await admin.pttl(key('fam1', 'b')), 60_000, 'the successor')
    t.equal(await admin.get(key('fam1', 'a')), 'Ssuccessor-b', 'the token is spent, with its successor')
    near(t, await admin.pttl(key('fam1', 'a')), 30_000, 'the spent token lives for the grace')
    t.same(await tokens.find('fam1', 'a'), { state: 'spent', successor: 'successor-b' })

    t.same(await tokens.rotate(rotation('fam1', 'a', 'c')), { state: 'spent', successor: 'successor-b' },
      'a spent token again')
    t.equal(await admin.exists(key('fam1', 'c')), 0, 'and nothing written')
    t.equal(await admin.get(key('fam1', 'a')), 'Ssuccessor-b')
    t.equal((await tokens.rotate(rotation('fam1', 'unknown', 'd')))?.state, 'absent', 'an unknown token')
    t.equal(await admin.exists(key('fam1', 'd')), 0, 'nothing written for it either')

    t.same(await tokens.rotate(rotation('fam1', 'b', 'c', { parent: 'a' })), { state: 'live', record: 'record-b' })
    t.equal(await admin.exists(key('fam1', 'a')), 0, 'the spent parent\'s grace ended with the next rotation')
    t.same(await tokens.find('fam1', 'b'), { state: 'spent', successor: 'successor-c' })
    await tokens.create('fam1', 'x', 'record-x', 60)
    await tokens.create('fam1', 'y', 'record-y', 60)
    await tokens.rotate(rotation('fam1', 'y', 'z', { parent: 'x' }))
    t.same(await tokens.find('fam1', 'x'), { state: 'live', record: 'record-x' }, 'a live "parent" is left alone')

    await tokens.create('fam3', 's', 'record-s', 60)
    t.same(await tokens.rotate(rotation('fam3', 's', 't', { graceSeconds: 0 })), { state: 'live', record: 'record-s' })
    t.equal(await admin.exists(key('fam3', 's')), 0, 'strict rotation (grace 0): the token is gone at once')
    t.equal((await tokens.find('fam3', 's'))?.state, 'absent')
    t.same(await tokens.find('fam3', 't'), { state: 'live', record: 'record-t' })

    await tokens.create('fam4', 'g', 'record-g', 60)
    await tokens.rotate(rotation('fam4', 'g', 'h', { graceSeconds: 0.1 }))
    t.same(await tokens.find('fam4', 'g'), { state: 'spent', successor: 'successor-h' })
    await sleep(150)
    t.equal((await tokens.find('fam4', 'g'))?.state, 'absent', 'after its grace, a spent token is unknown')
    t.same(await tokens.find('fam4', 'h'), { state: 'live', record: 'record-h' })

    await tokens.discard('fam1', 'b')
    await tokens.discard('fam1', 'c')
    t.equal((await tokens.find('fam1', 'b'))?.state, 'absent', 'discard forgets a spent token')
    t.equal((await tokens.find('fam1', 'c'))?.state, 'absent', 'and a live one')
    await tokens.discard('fam1', 'never')

    await t.rejects(tokens.create('fam5', 'a', 'r', 0), { name: 'TypeError', message: /ttlSeconds/ })
    await tokens.create('fam5', 'a', 'r', 60)
    await t.rejects(tokens.rotate(rotation('fam5', 'a', 'b', { graceSeconds: -1 })),
      /graceSeconds must be 0 or a positive number/)
    await t.rejects(tokens.rotate(rotation('fam5', 'a', 'b', { ttlSeconds: Number.NaN })), TypeError)
    t.same(await tokens.find('fam5', 'a'), { state: 'live', record: 'r' }, 'a refused rotation writes nothing')
    t.equal(await admin.exists(key('fam5', 'b')), 0)
  })

  t.test(`${target.name}: rotate is atomic across 4 store instances: exactly one sees the token live`, async (t) => {
    const first = storeOn(t, target)
    const stores = [first, ...Array.from({ length: 3 }, () => storeOn(t, target, { keyPrefix: first.keyPrefix }))]
    for (let round = 0; round < 8; round++) {
      const family = `race${round}`
      await first.refreshTokens.create(family, 'token', 'the-record', 60)
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) =>
        stores[i % 4]!.refreshTokens.rotate(rotation(family, 'token', `next${i}`))))
      const winners = results.flatMap((state, i) => state?.state === 'live' ? [i] : [])
      t.equal(winners.length, 1, `round ${round}: one of 12 sees it live`)
      const winner = winners[0]!
      t.same(results[winner], { state: 'live', record: 'the-record' })
      const others = results.filter((_, i) => i !== winner)
      t.ok(others.every((state) => state?.state === 'spent' && state.successor === `successor-next${winner}`),
        'every other one sees it spent, with the winner\'s successor')
      const written = await Promise.all(Array.from({ length: 12 }, (_, i) => first.refreshTokens.find(family, `next${i}`)))
      const writers = written.flatMap((state: RefreshState | null, i) => state?.state === 'absent' ? [] : [i])
      t.same(writers, [winner], 'only the winner wrote')
    }
  })

  t.test(`${target.name}: sessions: a per-user hash whose TTL is never shortened`, async (t) => {
    const store = storeOn(t, target)
    const { sessions } = store
    const key = `${store.keyPrefix}ses:user 1`
    await sessions.put('user 1', 'f1', 's1', 60)
    await sessions.put('user 1', 'f2', 's2', 30)
    near(t, await admin.pttl(key), 60_000, 'a shorter put kept the longer TTL')
    t.same(await admin.hgetall(key), { f1: 's1', f2: 's2' })
    t.same(await sessions.list('user 1'), { f1: 's1', f2: 's2' })
    await sessions.put('user 1', 'f1', 's1b', 120)
    near(t, await admin.pttl(key), 120_000, 'a longer put extends it')
    t.same(await sessions.list('user 1'), { f1: 's1b', f2: 's2' })
    await sessions.remove('user 1', 'f1')
    t.same(await sessions.list('user 1'), { f2: 's2' })
    t.same(await sessions.list('user 2'), {})
    await sessions.clear('user 1')
    t.same(await sessions.list('user 1'), {})
    t.equal(await admin.exists(key), 0)
    await t.rejects(sessions.put('user 1', 'f', 's', -5), TypeError)
  })

  t.test(`${target.name}: locks: lk:<name> with its TTL`, async (t) => {
    const store = storeOn(t, target)
    const until = Date.now() + 600_000
    await store.locks.lock('alice', until, 600)
    t.equal(await admin.get(`${store.keyPrefix}lk:alice`), String(until))
    near(t, await admin.pttl(`${store.keyPrefix}lk:alice`), 600_000, 'lock')
    t.equal(await store.locks.lockedUntil('alice'), until)
    t.equal(await store.locks.lockedUntil('bob'), null)
    await store.locks.lock('brief', until, 0.05)
    await sleep(80)
    t.equal(await store.locks.lockedUntil('brief'), null, 'gone with its TTL')
    await t.rejects(store.locks.lock('x', until, 0), TypeError)
  })

  t.test(`${target.name}: counters: atomic, in their bounded index, the window's end kept`, async (t) => {
    const store = storeOn(t, target)
    const values = `${store.keyPrefix}{counters}:values`
    const { counters } = store
    t.equal(await counters.increment('login', 60), 1)
    const [windowEnd] = (await admin.hget(values, 'c:login'))!.split(' ')
    near(t, Number(windowEnd) - Date.now(), 60_000, 'a new window')
    await sleep(20)
    t.equal(await counters.increment('login', 60), 2)
    t.equal(await counters.increment('login', 60), 3)
    t.equal(await admin.hget(values, 'c:login'), `${windowEnd} 3`, 'the count grows, the window keeps its end')
    near(t, await admin.pttl(values), 60_000, 'the index')
    near(t, await admin.pttl(`${store.keyPrefix}{counters}:expiries`), 60_000, 'its sorted set')

    await counters.reset('login')
    t.equal(await admin.hget(values, 'c:login'), null)
    t.equal(await admin.zscore(`${store.keyPrefix}{counters}:expiries`, 'c:login'), null, 'reset removes both')
    t.equal(await counters.increment('login', 60), 1, 'and counting starts again')
    await counters.reset('never')

    t.equal(await counters.increment('brief', 0.05), 1)
    t.equal(await counters.increment('brief', 0.05), 2)
    await sleep(80)
    t.equal(await counters.increment('brief', 0.05), 1, 'an expired window starts at 1')

    const others = Array.from({ length: 3 }, () => storeOn(t, target, { keyPrefix: store.keyPrefix }))
    const all = [store, ...others]
    const counts = await Promise.all(Array.from({ length: 40 }, (_, i) => all[i % 4]!.counters.increment('shared', 60)))
    t.same([...counts].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1),
      '40 increments on 4 instances: 1..40')
    await t.rejects(counters.increment('x', 0), { name: 'TypeError', message: /ttlSeconds/ })
  })

  t.test(`${target.name}: challenges: put, then one take only`, async (t) => {
    const store = storeOn(t, target)
    const { challenges } = store
    const values = `${store.keyPrefix}{ephemeral}:values`
    const ranks = `${store.keyPrefix}{ephemeral}:expiries`
    await challenges.put('c1', 'a value with spaces', 300)
    const [expiresAt, payload] = [...(await admin.hget(values, 'h:c1'))!.split(/ (.*)/s)]
    t.equal(payload, 'a value with spaces')
    near(t, Number(expiresAt) - Date.now(), 300_000, 'its expiry')
    t.equal(Number(await admin.zscore(ranks, 'h:c1')), Number(expiresAt), 'ranked by its expiry')
    near(t, await admin.pttl(values), 300_000, 'the index')
    t.equal(await challenges.take('c1'), 'a value with spaces')
    t.equal(await challenges.take('c1'), null, 'taken once')
    t.equal(await admin.hget(values, 'h:c1'), null)
    t.equal(await admin.zscore(ranks, 'h:c1'), null)
    t.equal(await challenges.take('never'), null)

    await challenges.put('brief', 'v', 0.05)
    await sleep(80)
    t.equal(await challenges.take('brief'), null, 'expired')
    t.equal(await admin.hget(values, 'h:brief'), null, 'and dropped')

    const all = [store, ...Array.from({ length: 3 }, () => storeOn(t, target, { keyPrefix: store.keyPrefix }))]
    for (let round = 0; round < 5; round++) {
      await challenges.put(`race${round}`, 'answer', 60)
      const taken = await Promise.all(Array.from({ length: 12 }, (_, i) => all[i % 4]!.challenges.take(`race${round}`)))
      t.equal(taken.filter((value) => value === 'answer').length, 1, `round ${round}: one of 12 concurrent takes sees it`)
    }
    await t.rejects(challenges.put('x', 'v', Number.NaN), TypeError)
  })

  t.test(`${target.name}: the ephemeral index is bounded; durable keys are untouched`, async (t) => {
    const store = storeOn(t, target, { maxEphemeral: 50 })
    const prefix = store.keyPrefix
    const until = Date.now() + 600_000
    await store.revocations.raise('family', 'kept', 1, 600)
    await store.refreshTokens.create('fam', 'kept', 'record', 600)
    await store.locks.lock('kept', until, 600)
    await store.sessions.put('kept', 'fam', 'session', 600)
    const durable = (await keysOf(target, prefix))
    t.same(durable, [`${prefix}lk:kept`, `${prefix}rt:{fam}:kept`, `${prefix}ses:kept`,
      `${prefix}{revocations}:expiries`, `${prefix}{revocations}:values`].sort())

    // Expiries strictly increasing, so "the newest" is well defined.
    for (let i = 0; i < 500; i++) await store.challenges.put(`id${i}`, `v${i}`, 60 + i / 1000)
    t.equal(await admin.zcard(`${prefix}{ephemeral}:expiries`), 50, '50 ranked')
    const fields = await admin.hkeys(`${prefix}{ephemeral}:values`)
    t.same(fields.sort(), Array.from({ length: 50 }, (_, i) => `h:id${450 + i}`).sort(), 'the 50 newest are kept')
    t.equal(await store.challenges.take('id499'), 'v499')
    t.equal(await store.challenges.take('id0'), null, 'the oldest were evicted')

    t.same(await keysOf(target, prefix), [...durable, `${prefix}{ephemeral}:expiries`, `${prefix}{ephemeral}:values`].sort(),
      'the flood added the two keys of the ephemeral index, nothing else')
    t.equal(await store.revocations.read('family', 'kept'), '1', 'the marker is untouched')
    t.same(await store.refreshTokens.find('fam', 'kept'), { state: 'live', record: 'record' }, 'the refresh token too')
    t.equal(await store.locks.lockedUntil('kept'), until, 'the lock too')
    t.same(await store.sessions.list('kept'), { fam: 'session' }, 'the session index too')
    for (const key of durable) near(t, await admin.pttl(key), 600_000, key, 10_000)
  })

  t.test(`${target.name}: a counter in use outlives a flood; the entry just written is never the one evicted`, async (t) => {
    const store = storeOn(t, target, { maxEphemeral: 50 })
    const { counters, challenges } = store
    const values = `${store.keyPrefix}{counters}:values`
    t.equal(await counters.increment('victim', 60), 1)
    const windowEnd = (await admin.hget(values, 'c:victim'))!.split(' ')[0]
    for (let i = 0; i < 500; i++) await challenges.put(`captcha${i}`, 'v', 600)
    t.equal(await counters.increment('victim', 60), 2, 'a flood of captchas (even longer-lived) never touches a counter')
    for (let i = 0; i < 30; i++) await counters.increment(`early${i}`, 60)
    await sleep(5)
    t.equal(await counters.increment('victim', 60), 3, 'used again during a flood of counters: ranked as new')
    await sleep(5)
    for (let i = 0; i < 40; i++) await counters.increment(`late${i}`, 60)
    t.equal(await admin.hlen(values), 50)
    t.equal(await counters.increment('victim', 60), 4, 'the counter survived the flood')
    t.equal((await admin.hget(values, 'c:victim'))!.split(' ')[0], windowEnd, 'with its window\'s end')
    t.equal(await counters.increment('early0', 60), 1, 'older counters went first')

    const small = storeOn(t, target, { maxEphemeral: 3 })
    for (const id of ['a', 'b', 'c']) await small.challenges.put(id, id, 60)
    await small.challenges.put('short', 'short', 1)
    t.equal(await small.challenges.take('short'), 'short', 'a new entry, even the closest to expiry, is kept')
    t.equal(await small.challenges.take('a'), null, 'the lowest of the others was evicted instead')
    t.equal(await small.challenges.take('c'), 'c')

    t.throws(() => target.open({ maxEphemeral: 0 }),
      { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /redisStore: maxEphemeral must be a positive integer \(got 0\)/ })
    t.throws(() => target.open({ maxEphemeral: 1.5 }), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /redisStore: maxEphemeral/ })
    t.throws(() => target.open({ maxEphemeral: '10' as never }), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /redisStore: maxEphemeral/ })
  })

  t.test(`${target.name}: user invalidations reach the other instance within 50 ms, this one at once`, async (t) => {
    const a = storeOn(t, target)
    const b = storeOn(t, target, { keyPrefix: a.keyPrefix })
    const heardA: Array<string | null> = []
    const heardB: Array<string | null> = []
    a.userInvalidations.listen((id) => heardA.push(id))
    b.userInvalidations.listen((id) => heardB.push(id))
    t.ok(await eventually(() => a.userInvalidations.live && b.userInvalidations.live, 3000), 'both subscriptions are live')
    t.same([heardA, heardB], [[null], [null]], 'each heard null once its subscription synced')
    heardA.length = 0
    heardB.length = 0

    const published = a.userInvalidations.publish('user 1')
    t.same(heardA, ['user 1'], 'the publisher hears its own at once')
    await published
    t.ok(await eventually(() => heardB.includes('user 1'), 50), 'the other instance within 50 ms')

    await a.revocations.raise('family', 'fam', Date.now(), 60)
    await b.revocations.raise('user', 'revoked user', Date.now(), 60)
    t.ok(heardB.includes('revoked user'), 'raising a user marker drops the user here at once')
    t.ok(await eventually(() => heardA.includes('revoked user'), 50), 'and on the other instance within 50 ms')
    t.notOk([...heardA, ...heardB].includes('fam'), 'a family marker is no user invalidation')

    // Written by hand: an invalidation is never taken for a marker, whatever follows the id.
    const later = Date.now() + 60_000
    await admin.publish(`${a.keyPrefix}revocations`, 'invalidate 99 fam:x')
    await admin.publish(`${a.keyPrefix}revocations`, `${later} 5 fam:y`)
    t.ok(await eventually(() => b.revocations.peek!('family', 'y') === '5', 50))
    // On a Cluster the two messages may travel through different nodes: no order between them.
    t.ok(await eventually(() => heardB.includes('99 fam:x'), 50), 'the id is everything after the first space')
    t.equal(b.revocations.peek!('family', 'x'), null, 'no marker from an invalidation')

    // A lone surrogate reaches the other side as U+FFFD: it cannot know whom, so it drops everyone.
    heardB.length = 0
    heardA.length = 0
    await a.userInvalidations.publish('\ud800')
    t.equal(heardA[0], '\ud800', 'the publisher drops the exact id')
    t.ok(await eventually(() => heardB.length > 0, 50))
    t.same(heardB, [null], 'the other instance drops every cached user')
  })

  t.test(`${target.name}: a lost subscription: not live until resubscribed, then null (may have missed some)`, async (t) => {
    const a = storeOn(t, target)
    const b = storeOn(t, target, { keyPrefix: a.keyPrefix, mirror: { staleAfter: 200 } })
    const heard: Array<string | null> = []
    b.userInvalidations.listen((id) => heard.push(id))
    t.ok(await eventually(() => b.userInvalidations.live, 3000))
    heard.length = 0
    const masters = target.masters()
    await Promise.all(masters.map((node) => node.acl('SETUSER', 'default', '-subscribe')))
    t.teardown(() => Promise.all(masters.map((node) => node.acl('SETUSER', 'default', '+subscribe'))))
    await Promise.all(masters.map((node) => node.call('CLIENT', 'KILL', 'TYPE', 'pubsub')))
    t.ok(await eventually(() => !b.userInvalidations.live, 1000), 'not live once the subscription drops')
    t.notOk(b.mirrorSynced)
    await a.userInvalidations.publish('missed')
    await sleep(300)
    t.notOk(b.userInvalidations.live, 'still not live while it cannot subscribe')
    t.same(heard, [], 'nothing heard meanwhile')
    await Promise.all(masters.map((node) => node.acl('SETUSER', 'default', '+subscribe')))
    t.ok(await eventually(() => b.userInvalidations.live, 3000), 'live again once subscribed and resynced')
    t.same(heard, [null], 'the listener heard null: drop everything')
    t.ok(b.mirrorSynced)
  })

  t.test(`${target.name}: with mirror: false the subscription carries invalidations only`, async (t) => {
    const a = storeOn(t, target, { mirror: false })
    const b = storeOn(t, target, { keyPrefix: a.keyPrefix, mirror: false })
    const heard: Array<string | null> = []
    b.userInvalidations.listen((id) => heard.push(id))
    t.ok(await eventually(() => b.userInvalidations.live, 3000), 'subscribed without a mirror')
    t.same(heard, [null])
    t.notOk(b.mirrorSynced, 'no mirror')
    await a.userInvalidations.publish('u1')
    t.ok(await eventually(() => heard.includes('u1'), 50), 'invalidations travel')
    await a.revocations.raise('user', 'u2', Date.now(), 60)
    t.ok(await eventually(() => heard.includes('u2'), 50), 'so do user markers, as invalidations')
    t.equal(b.mirrorSize, 0, 'markers are not copied')
    t.equal(b.revocations.peek!('user', 'u2'), undefined)
    t.not(await b.revocations.read('user', 'u2'), null, 'they are read from Redis')
  })

  t.test(`${target.name}: a RedisStore is branded`, async (t) => {
    const store = storeOn(t, target)
    t.equal(store[REDIS_STORE], true)
    t.notOk('set' in store || 'get' in store || 'take' in store || 'advance' in store, 'no key-value methods')
  })
}

t.test('redis: a frozen Redis: invalidations are not live after staleAfter', async (t) => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const store = redisStore({ url: server.url, mirror: false })
  t.teardown(() => store.close())
  t.ok(await eventually(() => store.userInvalidations.live, 3000))
  server.pause()
  t.teardown(() => server.resume())
  t.equal(store.userInvalidations.live, true, 'trusted for the staleness window')
  t.ok(await eventually(() => !store.userInvalidations.live, 2000), 'then not (staleAfter 1 s by default)')
  server.resume()
  t.ok(await eventually(() => store.userInvalidations.live, 3000), 'live again once Redis answers')
})

interface Logged { object: Record<string, unknown>, message: string }

type Log = { warn: (o: object, m: string) => void, info: (o: object, m: string) => void }

function captureLog (): { log: Log, warn: Logged[], info: Logged[] } {
  const warn: Logged[] = []
  const info: Logged[] = []
  return {
    warn,
    info,
    log: {
      warn: (object, message) => { warn.push({ object: object as Record<string, unknown>, message }) },
      info: (object, message) => { info.push({ object: object as Record<string, unknown>, message }) }
    }
  }
}

async function configCalls (admin: Redis): Promise<number> {
  const line = (await admin.info('commandstats')).split('\r\n').find((entry) => entry.startsWith('cmdstat_config|get:'))
  return line === undefined ? 0 : Number(/calls=(\d+)/.exec(line)![1])
}

t.test('attach: a Redis that may evict keys is warned about, on attach and after every reconnection', async (t) => {
  const server = await startRedis(['--maxmemory-policy', 'allkeys-lru'])
  t.teardown(() => server.stop())
  const store = redisStore({ url: server.url })
  t.teardown(() => store.close())
  const { log, warn, info } = captureLog()
  store.attach({ log }) // before the client is ready: checked once it is
  t.ok(await eventually(() => warn.length === 1, 2000), 'one warning')
  t.same(warn[0]!.object, { policy: 'allkeys-lru' }, 'naming the policy, and nothing else')
  t.match(warn[0]!.message, /evicted revocation marker brings a revoked token back/)
  t.match(warn[0]!.message, /maxmemory-policy noeviction/)
  t.same(info, [])

  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  const id = await (store.client as Redis).client('ID')
  await admin.call('CLIENT', 'KILL', 'ID', String(id))
  t.ok(await eventually(() => warn.length === 2, 3000), 'checked again after the reconnection')

  // A client already ready: checked at once.
  const client = new Redis(server.url)
  t.teardown(() => client.disconnect())
  await client.ping()
  const listeners = client.listenerCount('ready')
  const given = redisStore({ client })
  const second = captureLog()
  given.attach({ log: second.log })
  t.ok(await eventually(() => second.warn.length === 1, 1000))
  await given.close()
  t.equal(client.listenerCount('ready'), listeners, 'close removes its listener from your client')
})

t.test('attach: noeviction is not warned about; a CONFIG that cannot be run is said, never thrown', async (t) => {
  const fine = await startRedis(['--maxmemory-policy', 'noeviction'])
  t.teardown(() => fine.stop())
  const admin = new Redis(fine.url)
  t.teardown(() => admin.disconnect())
  const store = redisStore({ url: fine.url })
  t.teardown(() => store.close())
  const before = await configCalls(admin)
  const quiet = captureLog()
  store.attach({ log: quiet.log })
  t.ok(await eventually(async () => await configCalls(admin) === before + 1, 2000), 'the policy was checked')
  await sleep(50)
  t.same([quiet.warn, quiet.info], [[], []], 'nothing logged')

  const renamed = await startRedis(['--rename-command', 'CONFIG', ''])
  t.teardown(() => renamed.stop())
  const managed = redisStore({ url: renamed.url })
  t.teardown(() => managed.close())
  const said = captureLog()
  t.doesNotThrow(() => managed.attach({ log: said.log }))
  t.ok(await eventually(() => said.info.length === 1, 2000), 'one info')
  t.match(said.info[0]!.message, /could not check the Redis maxmemory-policy/)
  t.match(said.info[0]!.object, { reason: /unknown command/ })
  t.same(said.warn, [])
  await managed.locks.lock('x', 1, 5)
  t.equal(await managed.locks.lockedUntil('x'), 1, 'the store works all the same')

  const closing = redisStore({ url: renamed.url })
  t.ok(await eventually(() => closing.client.status === 'ready', 2000))
  const late = captureLog()
  closing.attach({ log: late.log }) // the check is on its way...
  await closing.close() // ...and the store closes before the answer
  await sleep(50)
  t.same([late.info, late.warn], [[], []], 'nothing is logged for a store closed meanwhile')
})

t.test('cluster: attach checks every master, naming the one that may evict', async (t) => {
  const [odd, ...others] = clusterAdmin.nodes('master')
  await odd!.config('SET', 'maxmemory-policy', 'volatile-lru')
  t.teardown(() => odd!.config('SET', 'maxmemory-policy', 'noeviction'))
  const before = await Promise.all(others.map((node) => configCalls(node)))
  const store = redisStore({ cluster: { nodes: cluster.nodes } })
  t.teardown(() => store.close())
  const { log, warn, info } = captureLog()
  store.attach({ log })
  t.ok(await eventually(() => warn.length === 1, 3000), 'one warning')
  t.same(warn[0]!.object, { policy: 'volatile-lru', node: `127.0.0.1:${odd!.options.port}` })
  t.ok(await eventually(async () => (await Promise.all(others.map((node) => configCalls(node))))
    .every((calls, i) => calls === before[i]! + 1), 2000), 'the other masters were checked too')
  await sleep(50)
  t.equal(warn.length, 1)
  t.same(info, [])
})
