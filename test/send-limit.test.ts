// Per-account limit on reset and verification messages (routes.passwordReset.perAccount,
// routes.emailVerification.perAccount): requests for one account from many addresses do not flood its mailbox.
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import jwtAuth, { memoryStore, type JwtAuthOptions } from '../lib/index.js'
import { bearer, SECRET } from './helpers/app.js'
import { loginRequest, OLD_PASSWORD, seedAccountUsers } from './helpers/account-app.js'
import { buildHarness, cloneUsers, post, sleep } from './helpers/account-harness.js'
import { fakeClock } from './helpers/clock.js'

const seed = await seedAccountUsers()

/** POST /password/forgot for `login`, each time from another address, then lets the flow run. */
async function forgot (t: Test, app: Awaited<ReturnType<typeof buildHarness>>, login: string, times: number) {
  for (let i = 0; i < times; i++) {
    const response = await app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { login }, remoteAddress: `198.51.100.${i + 1}` })
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

t.test('names of no account write nothing; the configured limit and false', async (t) => {
  const store = memoryStore()
  const app = await buildHarness(store, cloneUsers(seed), { routes: { passwordReset: { send: () => {}, perAccount: { max: 1, window: '10m' } } } })
  t.teardown(() => app.close())
  const before = store.ephemeralSize
  for (let i = 0; i < 20; i++) await post(app, '/auth/password/forgot', { login: `nobody-${i}` })
  await sleep(20)
  t.equal(store.ephemeralSize, before, 'no count for a made-up name')
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
  const app = await buildHarness(store, cloneUsers(seed), { routes: { captcha: true } })
  t.teardown(() => app.close())
  for (let i = 0; i < 4; i++) await app.jwtAuth.requestPasswordReset('bob')
  t.equal(app.inbox.messages.length, 3)
  // Captchas fill the ephemeral space many times over: the count of bob's messages is long gone.
  for (let i = 0; i < 100; i++) t.equal((await app.inject({ url: '/auth/captcha' })).statusCode, 200)
  t.ok(store.ephemeralSize <= 20)
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
  t.equal((await post(app, '/auth/password/forgot', { login: 'bob' })).statusCode, 202, 'the answer says nothing')
  await sleep(20)
  t.equal(app.inbox.messages.length, 0, 'nothing sent')
  t.ok(app.logs.some((line) => line.includes('password reset request failed')), 'the failure is logged')
  await t.rejects(app.jwtAuth.requestPasswordReset('bob'), { statusCode: 503 } as unknown as Error)
  t.equal(app.inbox.messages.length, 0)
  failing = false
  await app.jwtAuth.requestPasswordReset('bob')
  t.equal(app.inbox.messages.length, 1, 'back once the store is')
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
