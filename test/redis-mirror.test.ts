// The local revocation mirror of the Redis store: propagation between
// instances, resynchronisation after reconnects and restarts, and failing
// closed while the copy cannot be trusted. Real redis-server processes only.
import { Redis } from 'ioredis'
import t from 'tap'
import { redisStore, type RedisStore } from '../lib/stores/redis.js'
import { StoreSubscription } from '../lib/stores/mirror.js'
import { scanHash } from '../lib/stores/redis-connection.js'
import { bearer, buildApp } from './helpers/app.js'
import { fakeClock } from './helpers/clock.js'
import { eventually } from './helpers/eventually.js'
import { startRedis, type RedisServer } from './helpers/redis.js'

type App = Awaited<ReturnType<typeof buildApp>>

async function instance (t: { ok: (value: unknown, message: string) => void, teardown: (fn: () => Promise<void>) => void }, server: RedisServer, prefix: string, staleAfter = 1000): Promise<{ app: App, store: RedisStore }> {
  const store = redisStore({ url: server.url, keyPrefix: prefix, mirror: { staleAfter } })
  // The claims are the user: any id logs in.
  const app = await buildApp(store, { findById: false })
  t.teardown(async () => { await app.close(); await store.close() })
  t.ok(await eventually(() => store.mirrorSynced, 3000), 'the mirror is in sync')
  return { app, store }
}

/** A redis-server of the test's own, and an admin connection to it, both gone at teardown. */
async function redisFor (t: { teardown: (fn: () => unknown) => void }): Promise<{ server: RedisServer, admin: Redis }> {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  return { server, admin }
}

const status = async (app: App, token: string): Promise<number> => (await app.inject({ url: '/me', headers: bearer(token) })).statusCode

async function commandCalls (admin: Redis, command: string): Promise<number> {
  const line = (await admin.info('commandstats')).split('\r\n').find((entry) => entry.startsWith(`cmdstat_${command}:`))
  return line === undefined ? 0 : Number(/calls=(\d+)/.exec(line)![1])
}

t.test('a revocation on one instance is enforced by another within 50 ms, from its local copy', async (t) => {
  const { server, admin } = await redisFor(t)
  const a = await instance(t, server, 'p:')
  const b = await instance(t, server, 'p:')

  const delays: number[] = []
  for (let trial = 0; trial < 20; trial++) {
    const kind = trial % 2 === 0 ? 'revoke' : 'revokeAll'
    const pair = await a.app.jwtAuth.issue({ id: trial })
    t.equal(await status(b.app, pair.accessToken), 200)
    const started = performance.now()
    if (kind === 'revoke') await a.app.jwtAuth.revoke(pair.accessToken)
    else await a.app.jwtAuth.revokeAll(trial)
    t.equal(await status(a.app, pair.accessToken), 401, `${kind}: the revoking instance enforces it at once (read-your-writes)`)
    // Polled every millisecond, from the moment the revocation call returned.
    const waited = await eventually(async () => await status(b.app, pair.accessToken) === 401, 50, 1)
    t.ok(waited !== undefined, `${kind}: enforced by the other instance within 50 ms`)
    // From the moment revoke() returned (the call itself is not propagation).
    delays.push(waited ?? Number.POSITIVE_INFINITY)
    t.comment(`${kind} call and propagation: ${(performance.now() - started).toFixed(1)} ms`)
    t.equal(await status(b.app, (await a.app.jwtAuth.issue({ id: trial })).accessToken), 200, 'a new login works everywhere')
  }
  delays.sort((x, y) => x - y)
  t.ok(delays.at(-1)! < 50, `from revoke() returned to 401 on the other instance: median ${delays[10]!.toFixed(1)} ms, max ${delays.at(-1)!.toFixed(1)} ms over 20 trials`)

  // While in sync, authenticate makes no round trip: 200 requests add no read to Redis.
  const pair = await a.app.jwtAuth.issue({ id: 'local' })
  const before = { hget: await commandCalls(admin, 'hget'), get: await commandCalls(admin, 'get') }
  for (let i = 0; i < 200; i++) t.equal(await status(b.app, pair.accessToken), 200)
  t.same({ hget: await commandCalls(admin, 'hget'), get: await commandCalls(admin, 'get') }, before, 'no GET or HGET for 200 authenticated requests')
  t.equal(b.store.revocations.peek!('family', 'unknown'), null, 'markers are answered locally')
})

t.test('resynchronised after reconnecting: revocations made while it was not subscribed are enforced', async (t) => {
  const { server, admin } = await redisFor(t)
  const a = await instance(t, server, 'r:')
  const b = await instance(t, server, 'r:', 200)
  const early = await a.app.jwtAuth.issue({ id: 1 })
  const late = await a.app.jwtAuth.issue({ id: 2 })
  t.equal(await status(b.app, late.accessToken), 200)

  // B cannot subscribe any more, and loses its subscription.
  await admin.acl('SETUSER', 'default', '-subscribe')
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  t.ok(await eventually(() => !b.store.mirrorSynced, 1000), 'B no longer trusts its copy')
  await a.app.jwtAuth.revoke(early.accessToken)
  await a.app.jwtAuth.revokeAll(2)
  t.equal(b.store.revocations.peek!('family', 'x'), undefined, 'it does not answer from the copy')
  t.equal(await status(b.app, early.accessToken), 401, 'it reads Redis instead: the revocation is enforced')
  t.equal(await status(b.app, late.accessToken), 401, 'so is the revokeAll')
  await new Promise((resolve) => setTimeout(resolve, 300)) // failed attempts to resubscribe meanwhile
  t.notOk(b.store.mirrorSynced, 'still out of sync while it cannot subscribe')

  await admin.acl('SETUSER', 'default', '+subscribe')
  t.ok(await eventually(() => b.store.mirrorSynced, 2000), 'back in sync once it can subscribe')
  const before = await commandCalls(admin, 'hget')
  t.equal(await status(b.app, early.accessToken), 401, 'the missed revocation came with the resync')
  t.equal(await status(b.app, late.accessToken), 401, 'and the missed revokeAll')
  t.equal(await commandCalls(admin, 'hget'), before, 'answered from the copy')
})

t.test('a Redis restart: fail closed while it is down, then a full resync', async (t) => {
  // Persistence on, as in production: revocations survive the restart.
  const server = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always'])
  t.teardown(() => server.stop())
  const a = await instance(t, server, 's:')
  const b = await instance(t, server, 's:')
  const before = await a.app.jwtAuth.issue({ id: 1 })
  const after = await a.app.jwtAuth.issue({ id: 1 })
  const untouched = await a.app.jwtAuth.issue({ id: 2 })
  await a.app.jwtAuth.revoke(before.accessToken)
  t.ok(await eventually(async () => await status(b.app, before.accessToken) === 401, 50))

  await server.kill()
  t.ok(await eventually(() => !b.store.mirrorSynced, 1000), 'the copy is distrusted as soon as the connection drops')
  const down = await Promise.all([before, after, untouched].map((pair) => status(b.app, pair.accessToken)))
  t.same(down, [503, 503, 503], 'while Redis is down: 503 for every token, never 200')

  // Back, but nobody can subscribe yet: A revokes while B is out of sync.
  server.extraArgs.push('--user', 'default', 'on', 'nopass', '~*', '&*', '+@all', '-subscribe')
  await server.start()
  t.ok(await eventually(async () => { try { await a.app.jwtAuth.revoke(after.accessToken); return true } catch { return false } }, 5000, 100), 'A revokes once Redis is back')
  t.notOk(b.store.mirrorSynced)
  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  await admin.acl('SETUSER', 'default', '+subscribe')
  // Its failed tries back off (up to 5 s): the next one may be seconds away.
  t.ok(await eventually(() => b.store.mirrorSynced, 8000), 'B resynchronises')
  t.same(await Promise.all([before, after, untouched].map((pair) => status(b.app, pair.accessToken))), [401, 401, 200],
    'the revocation from before the restart (persisted) and the one made while B was out of sync are both enforced')
})

t.test('a frozen Redis: the copy answers for at most staleAfter, then 503; never a revoked token', async (t) => {
  const { server } = await redisFor(t)
  const { app, store } = await instance(t, server, 'f:', 200)
  const live = await app.jwtAuth.issue({ id: 1 })
  const revoked = await app.jwtAuth.issue({ id: 2 })
  await app.jwtAuth.revoke(revoked.accessToken)
  server.pause()
  t.teardown(() => server.resume())
  const started = performance.now()
  const seen = new Set<number>()
  let firstRefusal: number | undefined
  while (performance.now() - started < 1500) {
    const sentAt = performance.now() - started
    const [good, bad] = await Promise.all([status(app, live.accessToken), status(app, revoked.accessToken)])
    seen.add(bad)
    // A request sent after the copy is distrusted waits for Redis (commandTimeout, 1 s) before its 503.
    if (good !== 200 && firstRefusal === undefined) firstRefusal = sentAt
    if (firstRefusal !== undefined) t.equal(good, 503, 'once stale, every answer is 503')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.notOk(seen.has(200), `the revoked token was never accepted (answers: ${[...seen].join(', ')})`)
  t.ok(firstRefusal !== undefined && firstRefusal < 200 + 150, `the copy stopped answering ${firstRefusal?.toFixed(0)} ms into the freeze (staleAfter 200 ms, heartbeat 50 ms)`)
  t.notOk(store.mirrorSynced)
  server.resume()
  t.ok(await eventually(() => store.mirrorSynced, 3000), 'in sync again after SIGCONT')
  t.equal(await status(app, live.accessToken), 200)
})

t.test('garbage on the channel is ignored; expired markers are dropped', async (t) => {
  const { server, admin } = await redisFor(t)
  const { app, store } = await instance(t, server, 'g:')
  const later = Date.now() + 60_000
  // Not whole numbers (1e20 would be written back by Lua's %d as a negative number): never taken.
  for (const message of ['', 'garbage', 'fam:x', 'notanumber 5 fam:x', `${later} notanumber fam:x`, `${later} 5`, `${later} 5 `,
    '1e20 5 fam:x', `${later} 9007199254740993 fam:x`, `${later} 1.5 fam:x`]) await admin.publish('g:revocations', message)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.ok(store.mirrorSynced)
  t.equal(store.revocations.peek!('family', 'x'), null, 'nothing was taken from them')
  t.equal(await status(app, (await app.jwtAuth.issue({ id: 1 })).accessToken), 200)

  // A marker that expires: gone from reads, lookups and, after a resync, from the snapshot.
  const { revocations } = store
  await revocations.raise('family', 'short', Date.now(), 0.05)
  t.not(revocations.peek!('family', 'short'), null)
  t.not(await revocations.read('family', 'short'), null)
  await new Promise((resolve) => setTimeout(resolve, 80))
  t.equal(revocations.peek!('family', 'short'), null, 'expired in the copy')
  t.equal(await revocations.read('family', 'short'), null, 'expired in Redis')
  await revocations.raise('family', 'other', Date.now(), 0.05)
  await new Promise((resolve) => setTimeout(resolve, 80))
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  t.ok(await eventually(() => !store.mirrorSynced, 1000))
  t.ok(await eventually(() => store.mirrorSynced, 3000), 'resynced')
  t.equal(revocations.peek!('family', 'other'), null, 'an expired marker in the index is not copied')
})

t.test('the sweep drops expired markers from the copy', async (t) => {
  const { server } = await redisFor(t)
  const { store } = await instance(t, server, 'w:', 40)
  await store.revocations.raise('family', 'a', Date.now(), 30)
  await store.revocations.raise('family', 'b', Date.now(), 300)
  t.equal(store.mirrorSize, 2)
  const clock = fakeClock(t)
  clock.now += 61_000 // past a's expiry and the sweep interval
  t.ok(await eventually(() => store.mirrorSize === 1, 1000), 'the expired marker left the copy (swept, or dropped by the resync the clock jump causes)')
})

t.test('markers: only grow, never shortened, hold integers; without a mirror nothing is answered locally', async (t) => {
  const { server, admin } = await redisFor(t)
  const store = redisStore({ url: server.url, keyPrefix: 'm:', mirror: false })
  t.teardown(() => store.close())
  const { revocations } = store
  t.equal(revocations.peek!('family', 'a'), undefined, 'no mirror: nothing answered locally')
  t.notOk(store.mirrorSynced)
  t.equal(await revocations.raise('user', '1', 1000, 120), 1000)
  t.equal(await revocations.raise('user', '1', 10, 60), 1001, 'max(current + 1, floor)')
  t.equal(await revocations.raise('user', '1', 5, 60), 1002, 'a lower floor never lowers it')
  t.equal(await revocations.read('user', '1'), '1002')
  const expiresAt = Number((await admin.hget('m:{revocations}:values', 'usr:1'))!.split(' ')[0])
  t.ok(expiresAt - Date.now() > 110_000, 'the 60 s raises kept the 120 s expiry')
  t.equal(await revocations.raise('user', '1', 5000, 60), 5000)
  await t.rejects(revocations.raise('user', '1', Number('abc'), 60), /floor must be a finite number/)
  t.equal(await revocations.read('user', '1'), '5000')
  t.throws(() => redisStore({ url: server.url, mirror: { staleAfter: 10 } }), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /mirror.staleAfter must be an integer of at least 40 ms \(got 10\)/ })
  t.throws(() => redisStore({ url: server.url, mirror: 'yes' as never }), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /mirror must be a boolean or \{ staleAfter \}/ })
  t.throws(() => redisStore({ url: server.url, mirror: null as never }), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /mirror must be a boolean/ })
})

t.test('with a client you pass: the mirror has its own connection, closed with your client', async (t) => {
  const { server, admin } = await redisFor(t)
  const client = new Redis(server.url, { lazyConnect: true })
  const store = redisStore({ client, keyPrefix: 'c:' })
  await client.connect()
  t.ok(await eventually(() => store.mirrorSynced, 3000), 'in sync')
  const subscribers = async (): Promise<number> => (await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub') as string).split('\n').filter(Boolean).length
  t.equal(await subscribers(), 1)
  await client.quit()
  t.ok(await eventually(async () => await subscribers() === 0, 1000), 'your quit() ends the mirror\'s subscription too')
  t.notOk(store.mirrorSynced)
  await store.close()

  // Without a mirror the subscription is still there (user invalidations), and ends the same way.
  const other = new Redis(server.url)
  const plain = redisStore({ client: other, keyPrefix: 'd:', mirror: false })
  t.ok(await eventually(() => plain.userInvalidations.live, 3000), 'subscribed for invalidations')
  t.equal(await subscribers(), 1)
  t.notOk(plain.mirrorSynced)
  await other.quit()
  t.ok(await eventually(async () => await subscribers() === 0, 1000), 'ended with your client')
  t.notOk(plain.userInvalidations.live)
  await plain.close()
})

t.test('user caches: invalidateUser and revokeAll on one instance reach the other\'s cache within 50 ms', async (t) => {
  const { server } = await redisFor(t)
  const users = [{ id: 1, username: 'alice', roles: ['admin'] }, { id: 2, username: 'bob', roles: ['admin'] }]
  const open = async (): Promise<App> => {
    const app = await buildApp(redisStore({ url: server.url, keyPrefix: 'uc:' }), { users })
    t.teardown(async () => { await app.close(); await app.jwtAuth.store.close?.() })
    return app
  }
  const [a, b] = [await open(), await open()]
  t.ok(await eventually(() => (b.jwtAuth.store as RedisStore).userInvalidations.live, 3000))
  const alice = await a.jwtAuth.issue({ id: 1 })
  const admin = async (token: string): Promise<number> => (await b.inject({ url: '/admin', headers: bearer(token) })).statusCode
  t.equal(await admin(alice.accessToken), 200)
  const loads = b.findByIdCalls.length
  t.equal(await admin(alice.accessToken), 200)
  t.equal(b.findByIdCalls.length, loads, 'B answers from its user cache')

  users[0] = { ...users[0]!, roles: [] } // demoted in the user store (a new object: the cache holds the old one)
  t.equal(await admin(alice.accessToken), 200, 'B still has the cached user')
  await a.jwtAuth.invalidateUser(1)
  t.ok(await eventually(async () => await admin(alice.accessToken) === 403, 50), 'invalidated on A: B reloads the user within 50 ms')

  const bob = await a.jwtAuth.issue({ id: 2 })
  t.equal(await admin(bob.accessToken), 200)
  const before = b.findByIdCalls.filter((id) => id === '2').length
  await a.jwtAuth.revokeAll(2)
  const next = await a.jwtAuth.issue({ id: 2 })
  t.ok(await eventually(async () => await admin(next.accessToken) === 200, 50))
  t.ok(b.findByIdCalls.filter((id) => id === '2').length > before, 'after revokeAll B loaded bob afresh')
})

t.test('a resync in flight: markers heard meanwhile are kept, an outdated resync never lands', async (t) => {
  const { server, admin: publisher } = await redisFor(t)
  // A real subscription; only the snapshot is held back, to choose when it lands.
  const snapshots: Array<(stored: Record<string, string>) => void> = []
  const mirror = new StoreSubscription({
    subscriber: new Redis(server.url, { autoResubscribe: false }),
    channel: 'inflight',
    copy: {
      snapshot: (into) => new Promise((resolve) => snapshots.push((stored) => { into(Object.entries(stored).flat()); resolve() })),
      restore: async () => {}
    },
    staleAfterMs: 60_000
  })
  t.teardown(() => mirror.close())
  t.ok(await eventually(() => snapshots.length === 1, 2000), 'subscribed, snapshot requested')
  const later = Date.now() + 60_000
  await publisher.publish('inflight', `${later} 7 fam:heard`)
  mirror.apply('fam:local', { value: 8, expiresAt: later })
  t.ok(await eventually(() => mirror.size === 2, 1000))
  t.equal(mirror.lookup('fam:heard'), undefined, 'not trusted before the snapshot lands')
  snapshots[0]!({ 'fam:stored': `${later} 1`, 'fam:heard': `${later} 3`, 'fam:broken': 'not a marker', 'fam:old': `${Date.now() - 1} 1` })
  t.ok(await eventually(() => mirror.synced, 1000))
  t.same(['fam:stored', 'fam:heard', 'fam:local', 'fam:broken', 'fam:old'].map((field) => mirror.lookup(field)), ['1', '7', '8', null, null],
    'the snapshot, with what was heard meanwhile merged in (the higher value wins); garbage and expired entries skipped')

  // A reconnection while a snapshot is pending: that snapshot is outdated.
  await publisher.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  t.ok(await eventually(() => snapshots.length === 2, 2000), 'a new resync started')
  t.notOk(mirror.synced)
  await publisher.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  t.ok(await eventually(() => snapshots.length === 3, 2000), 'and another')
  snapshots[1]!({ 'fam:outdated': `${later} 1` })
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.notOk(mirror.synced, 'the outdated snapshot did not land')
  snapshots[2]!({})
  t.ok(await eventually(() => mirror.synced, 1000))
  t.equal(mirror.lookup('fam:outdated'), null)
})

t.test('options: mirror {} takes the defaults; without a mirror nothing is held', async (t) => {
  const { server } = await redisFor(t)
  const withDefaults = redisStore({ url: server.url, mirror: {} })
  t.teardown(() => withDefaults.close())
  t.ok(await eventually(() => withDefaults.mirrorSynced, 3000))
  const without = redisStore({ url: server.url, mirror: false })
  t.teardown(() => without.close())
  t.equal(without.mirrorSize, 0)
})

t.test('user ids with spaces, astral characters or lone surrogates (which UTF-8 cannot carry): revocation enforced everywhere', async (t) => {
  const { server } = await redisFor(t)
  const a = await instance(t, server, 'u:')
  const b = await instance(t, server, 'u:')
  for (const id of ['\ud800', 'a\udc00b', 'émoji 😀', 'plain']) {
    const pair = await a.app.jwtAuth.issue({ id })
    t.equal(await status(b.app, pair.accessToken), 200)
    await a.app.jwtAuth.revokeAll(id)
    t.ok(await eventually(async () => await status(b.app, pair.accessToken) === 401, 50), `revokeAll(${JSON.stringify(id)}) enforced on B`)
    t.equal(await status(a.app, pair.accessToken), 401, 'and on A')
  }
})

t.test('Redis restarted empty (no persistence; or a failover to a node without the writes): the instances write back what their copies hold', async (t) => {
  const { server, admin } = await redisFor(t)
  const a = await instance(t, server, 'l:', 200)
  const b = await instance(t, server, 'l:', 200)
  const loggedOut = await a.app.jwtAuth.issue({ id: 1 })
  const everywhere = await a.app.jwtAuth.issue({ id: 7 })
  const live = await a.app.jwtAuth.issue({ id: 8 })
  await a.app.jwtAuth.revoke(loggedOut.accessToken)
  await a.app.jwtAuth.revokeAll(7)
  const statuses = async (app: App): Promise<number[]> =>
    Promise.all([loggedOut, everywhere, live].map((pair) => status(app, pair.accessToken)))
  t.ok(await eventually(async () => (await statuses(b.app)).join() === '401,401,200', 50), 'enforced on B')
  const epoch = await a.store.revocations.read('user', '7')

  await server.kill()
  await server.start() // the same port, nothing in it
  t.ok(await eventually(() => a.store.mirrorSynced && b.store.mirrorSynced, 5000), 'both in sync again')
  t.same(await statuses(a.app), [401, 401, 200], 'A: the logout and the revokeAll made before the loss still hold')
  t.same(await statuses(b.app), [401, 401, 200], 'B: too')
  t.equal(await admin.hlen('l:{revocations}:values'), 2, 'both markers are in Redis again')
  t.equal(await a.store.revocations.read('user', '7'), epoch, 'the user\'s epoch as it was')
  for (const app of [a.app, b.app]) {
    const again = await app.jwtAuth.issue({ id: 7 })
    t.same([await status(a.app, again.accessToken), await status(b.app, again.accessToken)], [200, 200],
      'a new login of the user revoked everywhere works on both instances')
  }
})

t.test('until the markers Redis lost are written back, reads take the copy\'s; a failed write-back is tried again', async (t) => {
  const { server, admin } = await redisFor(t)
  const { app, store } = await instance(t, server, 'k:', 200)
  const loggedOut = await app.jwtAuth.issue({ id: 1 })
  const everywhere = await app.jwtAuth.issue({ id: 7 })
  await app.jwtAuth.revoke(loggedOut.accessToken)
  await app.jwtAuth.revokeAll(7)
  const epoch = await store.revocations.read('user', '7')

  // Lost from Redis, and scripts refused (as a Redis out of memory refuses writes): the write-back fails.
  await admin.del('k:{revocations}:values', 'k:{revocations}:expiries')
  await admin.acl('SETUSER', 'default', '-evalsha', '-eval')
  const scans = await commandCalls(admin, 'hscan')
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  await new Promise((resolve) => setTimeout(resolve, 1500)) // resyncs tried and failed meanwhile
  t.notOk(store.mirrorSynced, 'not in sync while the write-back fails')
  const tries = await commandCalls(admin, 'hscan') - scans
  t.ok(tries >= 2 && tries <= 5, `tried again, later each time: ${tries} resyncs in 1.5 s (a heartbeat every 50 ms)`)
  t.same([await status(app, loggedOut.accessToken), await status(app, everywhere.accessToken)], [401, 401],
    'Redis is read, and the copy\'s markers are taken over its missing ones')
  t.equal(await store.revocations.read('user', '7'), epoch, 'the epoch a new login takes is the copy\'s')
  t.equal(await admin.hlen('k:{revocations}:values'), 0, 'nothing written back yet')

  await admin.acl('SETUSER', 'default', '+evalsha', '+eval')
  t.ok(await eventually(() => store.mirrorSynced, 3000), 'in sync once the write-back succeeds')
  t.equal(await admin.hlen('k:{revocations}:values'), 2, 'written back')
  t.same([await status(app, loggedOut.accessToken), await status(app, everywhere.accessToken)], [401, 401])
})

t.test('the write-back: only what the copy holds above the snapshot; an outdated one never lands', async (t) => {
  const { server, admin } = await redisFor(t)
  const snapshots: Array<Record<string, string>> = []
  const restores: Array<{ markers: Array<[string, { value: number, expiresAt: number }]>, done: () => void }> = []
  const mirror = new StoreSubscription({
    subscriber: new Redis(server.url, { autoResubscribe: false }),
    channel: 'wb',
    copy: {
      snapshot: async (into) => { into(Object.entries(snapshots.shift() ?? {}).flat()) },
      restore: (markers) => new Promise((resolve) => restores.push({ markers, done: () => resolve() }))
    },
    staleAfterMs: 60_000
  })
  t.teardown(() => mirror.close())
  t.ok(await eventually(() => mirror.synced, 2000))
  const later = Date.now() + 60_000
  mirror.apply('fam:gone', { value: 5, expiresAt: later })
  mirror.apply('fam:lower', { value: 9, expiresAt: later })
  mirror.apply('fam:shorter', { value: 3, expiresAt: later + 1000 })
  mirror.apply('fam:same', { value: 4, expiresAt: later })
  mirror.apply('fam:expired', { value: 6, expiresAt: Date.now() + 30 })
  await new Promise((resolve) => setTimeout(resolve, 40))
  snapshots.push({ 'fam:lower': `${later} 2`, 'fam:shorter': `${later} 3`, 'fam:same': `${later} 4` })
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  t.ok(await eventually(() => restores.length === 1, 2000), 'a write-back started')
  t.same(restores[0]!.markers.map(([field]) => field).sort(), ['fam:gone', 'fam:lower', 'fam:shorter'],
    'what Redis lacks, holds lower, or holds for less long; neither what it holds as is, nor an expired marker')
  t.notOk(mirror.synced, 'not trusted while it runs')
  t.equal(mirror.held('fam:gone'), 5, 'the copy still holds what is being written back')

  // Reconnected while the write-back runs: that resync is outdated, the new one writes back again.
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  t.ok(await eventually(() => restores.length === 2, 2000), 'the new resync writes back too')
  restores[0]!.done()
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.notOk(mirror.synced, 'the outdated resync did not land')
  await admin.publish('wb', `${later} 11 fam:during`)
  t.ok(await eventually(() => mirror.held('fam:during') === 11, 1000), 'heard while the write-back runs')
  restores[1]!.done()
  t.ok(await eventually(() => mirror.synced, 1000))
  t.same(['fam:gone', 'fam:lower', 'fam:shorter', 'fam:same', 'fam:expired', 'fam:during'].map((field) => mirror.lookup(field)),
    ['5', '9', '3', '4', null, '11'], 'the new copy: the snapshot, what was written back, and what was heard meanwhile')
  t.equal(mirror.held('fam:expired'), undefined)
})

t.test('the merge script: by max, value and expiry apart; only a change is written and published', async (t) => {
  const { server, admin } = await redisFor(t)
  const store = redisStore({ url: server.url, keyPrefix: 'ms:', mirror: false })
  t.teardown(() => store.close())
  const merge = (now: number, ...markers: Array<[string, number, number]>): Promise<number> =>
    (store.client as unknown as { jwtAuthMergeMarkers: (...args: unknown[]) => Promise<number> })
      .jwtAuthMergeMarkers('ms:{revocations}:expiries', 'ms:{revocations}:values', now, 'ms:revocations', ...markers.flat())
  const listener = new Redis(server.url)
  t.teardown(() => listener.disconnect())
  const heard: string[] = []
  listener.on('message', (_channel: string, message: string) => heard.push(message))
  await listener.subscribe('ms:revocations')
  const now = Date.now()
  await store.revocations.raise('family', 'a', 100, 60)
  t.equal(await merge(now, ['fam:a', now + 60_000, 50], ['fam:b', now + 5000, 7], ['fam:c', now - 1, 9]), 1,
    'a lower value is not written; an expired marker is not written back')
  t.equal(await store.revocations.read('family', 'a'), '100')
  t.equal(await store.revocations.read('family', 'b'), '7')
  t.equal(await store.revocations.read('family', 'c'), null)
  t.equal(await merge(now, ['fam:b', now + 5000, 7]), 0, 'the same marker again: nothing')
  t.equal(await merge(now, ['fam:b', now + 9000, 6]), 1, 'a later expiry with a lower value: the expiry grows alone')
  const [expiresAt, value] = (await admin.hget('ms:{revocations}:values', 'fam:b'))!.split(' ').map(Number)
  t.same([expiresAt, value], [now + 9000, 7])
  t.equal(await admin.zscore('ms:{revocations}:expiries', 'fam:b'), String(now + 9000), 'the expiry is indexed')
  t.ok(await admin.pttl('ms:{revocations}:values') > 55_000, 'the index still lives as long as its last marker')
  await admin.del('ms:{revocations}:values', 'ms:{revocations}:expiries')
  t.equal(await merge(now, ['fam:d', now + 30_000, 1]), 1)
  t.ok(await admin.pttl('ms:{revocations}:expiries') > 25_000, 'a new index gets its lifetime')
  t.ok(await eventually(() => heard.length === 4, 1000), 'the raise and the three changes were published')
  t.same(heard.slice(1), [`${now + 5000} 7 fam:b`, `${now + 9000} 7 fam:b`, `${now + 30_000} 1 fam:d`])
})

t.test('the store\'s own connection reconnects (a failover it followed): what it wrote and the master lacks is written back', async (t) => {
  const { server, admin } = await redisFor(t)
  const a = await instance(t, server, 'o:', 200)
  const pair = await a.app.jwtAuth.issue({ id: 1 })
  await a.app.jwtAuth.revoke(pair.accessToken)
  // As if the logout had gone to a master demoted since: the master now lacks it, and B never heard it.
  await admin.del('o:{revocations}:values', 'o:{revocations}:expiries')
  const b = await instance(t, server, 'o:', 200)
  t.equal(await status(b.app, pair.accessToken), 200, 'B accepts the token: its logout was lost')
  t.equal(await status(a.app, pair.accessToken), 401, 'A still enforces it, from its copy')

  // Every connection but the subscriptions (and this one) drops and reconnects.
  await admin.call('CLIENT', 'KILL', 'TYPE', 'normal')
  t.ok(await eventually(async () => await status(b.app, pair.accessToken) === 401, 3000),
    'once A reconnected, it wrote the logout back, and B enforces it')
  t.equal(await admin.hlen('o:{revocations}:values'), 1, 'in Redis again')
})

t.test('a subscription that replaces one whose connection ended keeps its copy, and writes back what Redis lost', async (t) => {
  const { server } = await redisFor(t)
  const restored: Array<Array<[string, { value: number, expiresAt: number }]>> = []
  const copy = {
    snapshot: async () => {},
    restore: async (markers: Array<[string, { value: number, expiresAt: number }]>) => { restored.push(markers) }
  }
  const first = new StoreSubscription({ subscriber: new Redis(server.url), channel: 'rp', copy, staleAfterMs: 60_000 })
  t.ok(await eventually(() => first.synced, 2000))
  const later = Date.now() + 60_000
  first.apply('fam:kept', { value: 3, expiresAt: later })
  first.close()
  const second = new StoreSubscription({ subscriber: new Redis(server.url), channel: 'rp', copy, staleAfterMs: 60_000, replaces: first })
  t.teardown(() => second.close())
  t.equal(second.held('fam:kept'), 3, 'the copy goes on')
  t.ok(await eventually(() => second.synced, 2000))
  t.same(restored, [[['fam:kept', { value: 3, expiresAt: later }]]], 'what the index lacks is written back')
  t.equal(second.lookup('fam:kept'), '3')
})

t.test('the snapshot reads the index a chunk at a time, and stops when the resync is outdated', async (t) => {
  const { admin } = await redisFor(t)
  const fields = Array.from({ length: 3000 }, (_, i) => [`fam:${i}`, `${Date.now() + 60_000} ${i}`]).flat()
  await admin.hset('scan', ...fields)
  const chunks: string[][] = []
  await scanHash(admin, 'scan', 100, (chunk) => { chunks.push(chunk); return true })
  t.ok(chunks.length > 10, `${chunks.length} chunks`)
  t.equal(new Set(chunks.flat().filter((_, i) => i % 2 === 0)).size, 3000, 'every field')
  const before = await commandCalls(admin, 'hscan')
  await scanHash(admin, 'scan', 100, () => false)
  t.equal(await commandCalls(admin, 'hscan') - before, 1, 'one chunk, then no more once into() says stop')
})

t.test('what a resync writes back: own writes and lower messages are not taken as Redis\'s; each marker once', async (t) => {
  const { server, admin } = await redisFor(t)
  const pending: Array<(stored: Record<string, string>) => void> = []
  const restores: Array<Array<[string, { value: number, expiresAt: number }]>> = []
  let failing = 0
  const mirror = new StoreSubscription({
    subscriber: new Redis(server.url, { autoResubscribe: false }),
    channel: 'ow',
    copy: {
      snapshot: (into) => new Promise((resolve) => pending.push((stored) => { into(Object.entries(stored).flat()); resolve() })),
      restore: async (markers) => {
        restores.push(markers)
        if (failing-- > 0) throw new Error('refused')
      }
    },
    staleAfterMs: 40
  })
  t.teardown(() => mirror.close())
  t.ok(await eventually(() => pending.length === 1, 2000))
  t.equal(mirror.held('usr:\ud800'), undefined)
  mirror.recheck() // the copy is empty, but a resync is reading: it starts over
  t.ok(await eventually(() => pending.length === 2, 1000), 'a recheck restarts a resync in progress')
  pending[1]!({})
  t.ok(await eventually(() => mirror.synced, 1000))

  const later = Date.now() + 60_000
  mirror.apply('fam:skew', { value: 10, expiresAt: later })
  mirror.apply('usr:\ud800', { value: 1, expiresAt: later })
  t.equal(mirror.held('usr:\ud800'), undefined, 'a lone surrogate is never copied (Redis holds it as U+FFFD)')
  failing = 2
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  t.ok(await eventually(() => pending.length === 3, 2000))
  // During the resync: an own write (acknowledged by a node that may be gone) and a lower marker on the channel.
  mirror.apply('fam:own', { value: 3, expiresAt: later })
  await admin.publish('ow', `${later} 5 fam:skew`)
  await new Promise((resolve) => setTimeout(resolve, 30))
  pending[2]!({ 'fam:skew': `${later} 5` })
  t.ok(await eventually(() => restores.length === 1, 1000))
  t.same(restores[0]!.map(([field]) => field).sort(), ['fam:own', 'fam:skew'],
    'the own write the snapshot lacks, and the marker Redis holds lower, are written back')
  // The write-back fails twice: each retry writes each marker once.
  for (let attempt = 4; attempt <= 5; attempt++) {
    t.ok(await eventually(() => pending.length === attempt, 2000))
    pending[attempt - 1]!({ 'fam:skew': `${later} 5` })
  }
  t.ok(await eventually(() => mirror.synced, 2000))
  t.same(restores.map((markers) => markers.length), [2, 2, 2], 'the same two markers each time, never more')

  // The channel spells a lone surrogate as U+FFFD, as Redis keeps it: held() answers for the id as the app spells it.
  await admin.publish('ow', `${later} 9 usr:\uFFFD`)
  t.ok(await eventually(() => mirror.held('usr:\ud800') === 9, 1000), 'held() for an id with a lone surrogate')
  // An expired marker not swept yet is none: a new, lower one replaces it (its value does not come back).
  mirror.apply('fam:old', { value: 100, expiresAt: Date.now() + 20 })
  await new Promise((resolve) => setTimeout(resolve, 30))
  await admin.publish('ow', `${later} 5 fam:old`)
  t.ok(await eventually(() => mirror.held('fam:old') !== undefined, 1000))
  t.equal(mirror.held('fam:old'), 5)
})
