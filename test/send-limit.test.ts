// Per-account limit on reset and verification messages (routes.passwordReset.perAccount,
// routes.emailVerification.perAccount): requests for one account from many addresses do not flood its mailbox.
import { createHash } from 'node:crypto'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import jwtAuth, { memoryStore, type JwtAuthOptions } from '../lib/index.js'
import { bearer, SECRET } from './helpers/app.js'
import { loginRequest, OLD_PASSWORD, seedAccountUsers } from './helpers/account-app.js'
import { buildHarness, cloneUsers, post, sleep } from './helpers/account-harness.js'
import { fakeClock } from './helpers/clock.js'
import { keyValueStore } from './helpers/kv-store.js'

const seed = await seedAccountUsers()

/** POST /password/forgot for `login`, each time from another address, then lets the flow run. */
async function forgot (t: Test, app: Awaited<ReturnType<typeof buildHarness>>, login: string, times: number) {
  for (let i = 0; i < times; i++) {
    const response = await app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { username: login }, remoteAddress: `198.51.100.${i + 1}` })
    t.equal(response.statusCode, 202)
  }
  await sleep(20)
}

t.test('ten reset requests for one account from ten addresses: three messages, the rest held with an event', async (t) => {
  const clock = fakeClock(t)
  // The harness has no per-IP rate limit: what holds the messages here is the per-account limit alone.
  const app = await buildHarness(memoryStore(), cloneUsers(seed))
  t.teardown(() => app.close())
  await forgot(t, app, 'bob', 10)
  t.equal(app.inbox.messages.length, 3)
  const requests = app.events.filter((event) => event.type === 'password.reset.request')
  t.equal(requests.length, 10)
  t.equal(requests.filter((event) => event.reason === 'limited').length, 7)
  t.ok(requests.every((event) => event.userId === '2'))

  await forgot(t, app, 'alice', 1)
  t.equal(app.inbox.messages.length, 4, 'another account is not held')
  clock.now += 60 * 60_000 + 1
  await forgot(t, app, 'bob', 1)
  t.equal(app.inbox.messages.length, 5, 'an hour later, bob gets one again')
  const last = await app.inbox.next('reset', 4)
  t.equal((await post(app, '/auth/password/reset', { token: last.token, password: 'new-password-2' })).statusCode, 204)
})

t.test('whoever spends the allowance cannot keep the owner from a working link: holds last while one is alive', async (t) => {
  const clock = fakeClock(t)
  const app = await buildHarness(memoryStore(), cloneUsers(seed))
  t.teardown(() => app.close())
  const sent = () => app.inbox.messages.length
  // An attacker asks three times: three links, alive for the reset ttl (30 minutes).
  for (let i = 0; i < 3; i++) await app.jwtAuth.requestPasswordReset('bob')
  t.equal(sent(), 3)
  clock.now += 10 * 60_000
  await app.jwtAuth.requestPasswordReset('bob')
  t.equal(sent(), 3, 'ten minutes later: held, and the owner has three working links')
  clock.now += 21 * 60_000
  t.equal((await post(app, '/auth/password/reset', { token: app.inbox.messages[2]!.token, password: 'new-password-2' })).statusCode, 400,
    'half an hour on, those links have expired')
  await app.jwtAuth.requestPasswordReset('bob')
  t.equal(sent(), 4, 'so the next request sends one, though the hour is not over')
  for (let i = 0; i < 5; i++) await app.jwtAuth.requestPasswordReset('bob')
  t.equal(sent(), 4, 'and holds again while that link is alive')
  t.equal((await post(app, '/auth/password/reset', { token: app.inbox.messages[3]!.token, password: 'new-password-2' })).statusCode, 204)
})

t.test('past the allowance with no live link, fifty requests at once send one message', async (t) => {
  const clock = fakeClock(t)
  const app = await buildHarness(memoryStore(), cloneUsers(seed))
  t.teardown(() => app.close())
  for (let i = 0; i < 3; i++) await app.jwtAuth.requestPasswordReset('bob')
  clock.now += 31 * 60_000
  await Promise.all(Array.from({ length: 50 }, async () => await app.jwtAuth.requestPasswordReset('bob')))
  t.equal(app.inbox.messages.length, 4)
})

t.test('one request writes no lasting entry; the allowance used up writes one (the latest link), a hold another', async (t) => {
  const store = memoryStore()
  const app = await buildHarness(store, cloneUsers(seed))
  t.teardown(() => app.close())
  const durable = store.size
  for (let i = 0; i < 2; i++) await app.jwtAuth.requestPasswordReset('bob')
  t.equal(store.size, durable, 'two requests: none')
  await app.jwtAuth.requestPasswordReset('bob')
  t.equal(store.size, durable + 1, 'the third (max): the end of its link')
  await app.jwtAuth.requestPasswordReset('bob')
  t.equal(store.size, durable + 2, 'the fourth: the hold')
  for (let i = 0; i < 10; i++) await app.jwtAuth.requestPasswordReset('bob')
  t.equal(store.size, durable + 2, 'no more after it')
})

t.test('a new password or a new address starts a new allowance: the links before it are dead', async (t) => {
  const app = await buildHarness(memoryStore(), cloneUsers(seed))
  t.teardown(() => app.close())
  for (let i = 0; i < 4; i++) await app.jwtAuth.requestPasswordReset('bob')
  t.equal(app.inbox.messages.length, 3)
  await app.jwtAuth.changePassword(2, 'changed-password-3')
  await app.jwtAuth.requestPasswordReset('bob')
  t.equal(app.inbox.messages.length, 4, 'after a password change (its links no longer work), one goes out')

  for (let i = 0; i < 4; i++) await app.jwtAuth.requestEmailVerification(2)
  const verifications = () => app.inbox.messages.filter((message) => message.kind === 'verify').length
  t.equal(verifications(), 3)
  app.users[1]!.email = 'bob@fixed.example.test'
  await app.jwtAuth.invalidateUser(2)
  await app.jwtAuth.requestEmailVerification(2)
  t.equal(verifications(), 4, 'after the address is corrected, one goes out to it')
})

t.test('a mailer that fails leaves no link counted as out there: the owner is not held by it', async (t) => {
  let failures = 3
  const delivered: string[] = []
  const send = ({ token }: { token: string }) => {
    if (failures-- > 0) throw new Error('smtp down')
    delivered.push(token)
  }
  const app = await buildHarness(memoryStore(), cloneUsers(seed), { routes: { passwordReset: { send } } })
  t.teardown(() => app.close())
  for (let i = 0; i < 3; i++) await app.jwtAuth.requestPasswordReset('bob')
  t.equal(delivered.length, 0, 'the allowance spent on a failing mailer')
  failures = 1
  await app.jwtAuth.requestPasswordReset('bob')
  t.equal(delivered.length, 0, 'an extra one, failing too')
  await app.jwtAuth.requestPasswordReset('bob')
  t.equal(delivered.length, 1, 'may be tried again at once, and goes out')
  await app.jwtAuth.requestPasswordReset('bob')
  t.equal(delivered.length, 1, 'then held while that link is alive')
  t.equal(app.logs.filter((line) => line.includes('routes.passwordReset.send failed')).length, 4)
})

t.test('a key-value store without increment cannot count messages: refused at register unless perAccount is false', async (t) => {
  const users = { findById: async () => null, findByLogin: async () => null, updatePasswordHash: async () => {}, markEmailVerified: async () => {} }
  const refused = Fastify()
  await t.rejects(async () => {
    await refused.register(jwtAuth, { secret: SECRET, users, store: keyValueStore(), routes: { lockout: false, passwordReset: { send: () => {} } } } as JwtAuthOptions)
  }, { message: /routes\.passwordReset\.perAccount needs atomic counters: .* set routes\.passwordReset\.perAccount: false/ })
  await refused.close()
  const verification = Fastify()
  await t.rejects(async () => {
    await verification.register(jwtAuth, { secret: SECRET, users, store: keyValueStore(), routes: { lockout: false, emailVerification: { send: () => {} } } } as JwtAuthOptions)
  }, { message: /routes\.emailVerification\.perAccount needs atomic counters/ })
  await verification.close()
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET, users, store: keyValueStore(), routes: { lockout: false, passwordReset: { send: () => {}, perAccount: false } }
  } as JwtAuthOptions)
  await app.ready()
  await app.close()
  t.pass('perAccount: false')
})

t.test('names of no account write nothing; the configured limit and false', async (t) => {
  const store = memoryStore()
  const app = await buildHarness(store, cloneUsers(seed), { routes: { passwordReset: { send: () => {}, perAccount: { max: 1, window: '10m' } } } })
  t.teardown(() => app.close())
  const [ephemeral, durable] = [store.ephemeralSize, store.size]
  for (let i = 0; i < 20; i++) await post(app, '/auth/password/forgot', { username: `nobody-${i}` })
  await sleep(20)
  t.equal(store.ephemeralSize, ephemeral, 'no count for a made-up name')
  t.equal(store.size, durable, 'nor any lasting entry')
  t.equal(app.events.filter((event) => event.reason === 'limited').length, 0)

  const sent: string[] = []
  const limited = await buildHarness(memoryStore(), cloneUsers(seed), {
    routes: { passwordReset: { send: ({ token }: { token: string }) => { sent.push(token) }, perAccount: { max: 1, window: '10m' } } }
  })
  t.teardown(() => limited.close())
  for (let i = 0; i < 3; i++) await limited.jwtAuth.requestPasswordReset('bob')
  t.equal(sent.length, 1, 'max 1')

  const unlimited = await buildHarness(memoryStore(), cloneUsers(seed), {
    routes: { passwordReset: { send: ({ token }: { token: string }) => { sent.push(token) }, perAccount: false } }
  })
  t.teardown(() => unlimited.close())
  for (let i = 0; i < 10; i++) await unlimited.jwtAuth.requestPasswordReset('bob')
  t.equal(sent.length, 11, 'perAccount: false sends every time')
})

t.test('the hold outlives its count: a flood that evicts ephemeral entries does not lift it', async (t) => {
  const store = memoryStore({ maxEphemeralEntries: 20 })
  const app = await buildHarness(store, cloneUsers(seed))
  t.teardown(() => app.close())
  for (let i = 0; i < 4; i++) await app.jwtAuth.requestPasswordReset('bob')
  t.equal(app.inbox.messages.length, 3)
  // The count of bob's messages, under the name the limit gives it (his id and password hash).
  const count = `sent.reset.${createHash('sha256').update(`2\n${app.users[1]!.passwordHash}`).digest('base64url')}`
  t.equal(await store.counters.increment(count, 3600), 5, 'four requests counted')
  // Failed logins for made-up names fill the counters' space: the count is gone.
  for (let i = 0; i < 30; i++) t.equal((await loginRequest(app, `nobody-${i}`, 'wrong-password')).statusCode, 401)
  t.equal(await store.counters.increment(count, 3600), 1, 'evicted: it starts again')
  await store.counters.reset(count)
  for (let i = 0; i < 5; i++) await app.jwtAuth.requestPasswordReset('bob')
  t.equal(app.inbox.messages.length, 3, 'still held')
})

t.test('a store that cannot count sends nothing (fails closed): 202 for the route, 503 for the API', async (t) => {
  const inner = memoryStore()
  let failing = false
  const counters = {
    increment: async (name: string, ttl: number) => { if (failing) throw new Error('store down'); return await inner.counters.increment(name, ttl) },
    reset: async (name: string) => { await inner.counters.reset(name) }
  }
  const store = Object.assign(Object.create(inner) as typeof inner, { counters })
  const app = await buildHarness(store, cloneUsers(seed))
  t.teardown(() => app.close())
  failing = true
  t.equal((await post(app, '/auth/password/forgot', { username: 'bob' })).statusCode, 202, 'the answer says nothing')
  await sleep(20)
  t.equal(app.inbox.messages.length, 0, 'nothing sent')
  t.ok(app.logs.some((line) => line.includes('password reset request failed')), 'the failure is logged')
  t.equal(app.events.find((event) => event.type === 'password.reset.request')?.reason, 'store_unavailable', 'and has its event')
  await t.rejects(app.jwtAuth.requestPasswordReset('bob'), { statusCode: 503 } as unknown as Error)
  t.equal(app.inbox.messages.length, 0)
  failing = false
  await app.jwtAuth.requestPasswordReset('bob')
  t.equal(app.inbox.messages.length, 1, 'back once the store is')
})

t.test('a sent message whose link the store cannot record is logged; the message went out', async (t) => {
  const inner = memoryStore()
  const locks = {
    lock: async () => { throw new Error('store down') },
    lockedUntil: async (name: string) => await inner.locks.lockedUntil(name)
  }
  const store = Object.assign(Object.create(inner) as typeof inner, { locks })
  const sent: string[] = []
  const send = ({ token }: { token: string }) => { sent.push(token) }
  // The lockout writes locks too: off, so that only the limit's write fails.
  const app = await buildHarness(store, cloneUsers(seed), { routes: { lockout: false, passwordReset: { send, perAccount: { max: 1 } } } })
  t.teardown(() => app.close())
  await app.jwtAuth.requestPasswordReset('bob')
  t.equal(sent.length, 1)
  t.ok(app.logs.some((line) => line.includes('routes.passwordReset.perAccount not recorded')))
})

t.test('verification messages: three an hour per account, also through the route; held ones are logged', async (t) => {
  const app = await buildHarness(memoryStore(), cloneUsers(seed))
  t.teardown(() => app.close())
  const { access_token: token } = (await loginRequest(app, 'bob', OLD_PASSWORD)).json()
  for (let i = 0; i < 5; i++) {
    t.equal((await app.inject({ method: 'POST', url: '/auth/email/verify/request', headers: bearer(token) })).statusCode, 202)
  }
  t.equal(app.inbox.messages.filter((message) => message.kind === 'verify').length, 3)
  t.equal(app.logs.filter((line) => line.includes('verification not sent: routes.emailVerification.perAccount')).length, 2)
  for (let i = 0; i < 3; i++) await app.jwtAuth.requestPasswordReset('bob')
  t.equal(app.inbox.messages.filter((message) => message.kind === 'reset').length, 3, 'resets count apart')
})

t.test('perAccount options are checked at register', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['passwordReset', 'x', /routes\.passwordReset\.perAccount must be false or \{ max, window \}/],
    ['passwordReset', { max: 0 }, /routes\.passwordReset\.perAccount\.max must be a positive integer \(got 0\)/],
    ['passwordReset', { max: 1.5 }, /perAccount\.max must be a positive integer/],
    ['passwordReset', { window: 'soon' }, /routes\.passwordReset\.perAccount\.window must be a duration/],
    ['emailVerification', { maxx: 3 }, /unknown option routes\.emailVerification\.perAccount\.maxx \(did you mean routes\.emailVerification\.perAccount\.max\?\)/],
    ['emailVerification', true, /routes\.emailVerification\.perAccount must be false or/]
  ]
  const users = { findById: async () => null, findByLogin: async () => null, updatePasswordHash: async () => {}, markEmailVerified: async () => {} }
  for (const [route, perAccount, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => {
      await app.register(jwtAuth, { secret: SECRET, users, routes: { [route]: { send: () => {}, perAccount } } } as JwtAuthOptions)
    }, { code: 'FST_JWT_AUTH_INVALID_OPTION', message }, String(message))
    await app.close()
  }
})
