import Fastify from 'fastify'
import rateLimit from '@fastify/rate-limit'
import t from 'tap'
import jwtAuth from '../lib/index.js'
import { bearer, SECRET } from './helpers/app.js'
import { buildRoutesApp, CAPTCHA_TEXT, fixedCaptcha, login, PASSWORDS, seedUsers, type RoutesApp } from './helpers/routes-app.js'

const users = await seedUsers()

const refresh = (app: RoutesApp) => app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: 'x' } })
const me = (app: RoutesApp, token: string) => app.inject({ url: '/auth/me', headers: bearer(token) })

async function statuses (count: number, request: () => Promise<{ statusCode: number }>): Promise<number[]> {
  const seen = []
  for (let i = 0; i < count; i++) seen.push((await request()).statusCode)
  return seen
}

t.test('a client reading /me and refreshing never uses up its logins (one bucket per class of route)', async (t) => {
  const app = await buildRoutesApp({ users, routes: { captcha: false, lockout: false } })
  t.teardown(() => app.close())
  const { access_token: token } = (await login(app, 'alice', PASSWORDS.alice, {})).json()
  t.same(await statuses(30, () => me(app, token)), Array(30).fill(200), 'thirty reads of /me')
  t.same(await statuses(10, () => refresh(app)), Array(10).fill(401), 'ten refreshes (of a bad token)')
  t.equal((await login(app, 'alice', PASSWORDS.alice, {})).statusCode, 200, 'and the login still works')
})

t.test('the credential routes are strict: 10 a minute, then 429 with Retry-After', async (t) => {
  const app = await buildRoutesApp({ users, routes: { captcha: false, lockout: false } })
  t.teardown(() => app.close())
  const seen = await statuses(11, () => login(app, 'nobody', 'wrong-password', {}))
  t.same(seen, [...Array(10).fill(401), 429])
  const limited = await login(app, 'alice', PASSWORDS.alice, {})
  t.equal(limited.statusCode, 429, 'the right password too: the bucket is per client, not per name')
  // The window's rest, in whole seconds: the eleven logins (argon2 each) may take a second on a busy machine.
  t.ok(['59', '60'].includes(String(limited.headers['retry-after'])), `Retry-After ${limited.headers['retry-after']}`)
  t.equal(limited.headers['x-ratelimit-limit'], '10')
  t.equal((await refresh(app)).statusCode, 401, 'refresh is not starved by the logins')
})

t.test('the default limits of the other classes: session 120, captcha 30 a minute', async (t) => {
  const app = await buildRoutesApp({ users, routes: { captcha: fixedCaptcha } })
  t.teardown(() => app.close())
  t.same(await statuses(121, () => refresh(app)), [...Array(120).fill(401), 429])
  t.same(await statuses(31, () => app.inject({ url: '/auth/captcha' })), [...Array(30).fill(200), 429])
  const captchaId = 'x'
  const answer = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'alice', password: PASSWORDS.alice, captchaId, captcha: CAPTCHA_TEXT } })
  t.equal(answer.statusCode, 400, 'login is counted apart (a wrong captcha id, not a 429)')
})

t.test('each class is configurable: top-level max and timeWindow are the credential routes\'', async (t) => {
  const app = await buildRoutesApp({
    users,
    routes: { captcha: false, lockout: false },
    options: { rateLimit: { max: 2, timeWindow: '1 minute', session: { max: 3 }, captcha: false } }
  })
  t.teardown(() => app.close())
  t.same(await statuses(3, () => login(app, 'nobody', 'wrong-password', {})), [401, 401, 429])
  t.same(await statuses(4, () => refresh(app)), [401, 401, 401, 429])
  const classLimits = await buildRoutesApp({
    users,
    routes: { captcha: false, lockout: false },
    options: { rateLimit: { max: 50, credentials: { max: 1 }, session: false } }
  })
  t.teardown(() => classLimits.close())
  t.same(await statuses(2, () => login(classLimits, 'nobody', 'wrong-password', {})), [401, 429], 'credentials.max wins')
  t.same(await statuses(130, () => refresh(classLimits)), Array(130).fill(401), 'session: false is unlimited')
})

t.test('shared options reach every class: keyGenerator counts per key', async (t) => {
  const app = await buildRoutesApp({
    users,
    routes: { captcha: false, lockout: false },
    options: { rateLimit: { max: 1, keyGenerator: (request: { headers: Record<string, unknown> }) => String(request.headers['x-client']) } }
  })
  t.teardown(() => app.close())
  const from = (client: string) => () => app.inject({ method: 'POST', url: '/auth/login', headers: { 'x-client': client }, payload: { username: 'x', password: 'wrong-password' } })
  t.same(await statuses(2, from('a')), [401, 429])
  t.same(await statuses(1, from('b')), [401], 'another key, another bucket')
})

t.test('rateLimit: false turns every class off', async (t) => {
  const app = await buildRoutesApp({ users, routes: { captcha: false, lockout: false }, options: { rateLimit: false } })
  t.teardown(() => app.close())
  t.same(await statuses(15, () => login(app, 'nobody', 'wrong-password', {})), Array(15).fill(401))
  t.same(await statuses(15, () => refresh(app)), Array(15).fill(401))
})

t.test('an app that registered @fastify/rate-limit itself: our class limits on our routes, its own on top', async (t) => {
  const local = await buildRoutesApp({
    users,
    routes: { captcha: false, lockout: false },
    options: { rateLimit: { max: 2, timeWindow: '1 minute' } },
    before: async (app) => { await app.register(rateLimit, { global: false }) }
  })
  t.teardown(() => local.close())
  t.same(await statuses(3, () => login(local, 'alice', PASSWORDS.alice, {})), [200, 200, 429])
  const global = await buildRoutesApp({
    users,
    routes: { captcha: false, lockout: false },
    before: async (app) => { await app.register(rateLimit, { max: 3, timeWindow: '1 minute' }) }
  })
  t.teardown(() => global.close())
  t.same(await statuses(4, () => refresh(global)), [401, 401, 401, 429], 'the app\'s global limit applies too')
})

t.test('misspelt class names and class options are refused at register, with the likely name', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ sesion: { max: 5 } }, /unknown option rateLimit\.sesion \(did you mean rateLimit\.session\?\)/],
    [{ session: { maxx: 5 } }, /unknown option rateLimit\.session\.maxx \(did you mean rateLimit\.session\.max\?\)/],
    [{ session: { redis: {} } }, /unknown option rateLimit\.session\.redis/],
    [{ global: false }, /unknown option rateLimit\.global/],
    [{ captcha: true }, /rateLimit\.captcha must be false or limits such as/]
  ]
  for (const [rateLimitOption, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(jwtAuth, { secret: SECRET, rateLimit: rateLimitOption as never }).ready() }, message)
    await app.close()
  }
})
