// Audit events: one test per type, through the routes (the API where it is the only
// path), on onEvent and on the diagnostics channel alike; never a secret in an event.
import diagnosticsChannel from 'node:diagnostics_channel'
import t, { type Test } from 'tap'
import { EVENT_CHANNEL, hashPassword, type AuthEvent, type AuthEventType, type AuthStore } from '../lib/index.js'
import { bearer, decodePart } from './helpers/app.js'
import { OLD_PASSWORD, seedAccountUsers } from './helpers/account-app.js'
import { buildHarness, cloneUsers, familyOf, sleep, tokenDigest, type HarnessApp, type HarnessOptions } from './helpers/account-harness.js'
import { eventually } from './helpers/eventually.js'
import { CAPTCHA_TEXT, fixedCaptcha } from './helpers/routes-app.js'

const NEW_PASSWORD = 'new-password-2'
const IP = '203.0.113.7'
const UA = 'events-test/1.0 (audit)'
const seed = await seedAccountUsers()
const otherHash = await hashPassword('changed-under-the-login')

const ALL_TYPES: AuthEventType[] = ['login.success', 'login.failure', 'lockout', 'refresh', 'refresh.reuse', 'refresh.unknown', 'logout',
  'revoke.all', 'register', 'password.change', 'password.reset.request', 'password.reset', 'email.verify',
  'password.change.failure', 'password.reset.failure', 'email.verify.failure']
const REASONS = ['unknown_user', 'wrong_password', 'captcha', 'locked', 'email_not_verified']
/** Every type some test below saw, checked at the end. */
const seen = new Set<string>()

interface Subject {
  app: HarnessApp
  /** What the diagnostics channel delivered while the test ran. */
  channel: AuthEvent[]
  /** Never in an event: passwords, tokens, digests (hashes are added at the end). */
  secrets: Set<string>
  /** A request from IP with UA (and the access token, when given); tokens in the answer become secrets. */
  request: (method: 'GET' | 'POST', url: string, payload?: unknown, accessToken?: string) => Promise<{ statusCode: number, body: string, json: () => any }>
  login: (username: string, password: string, extra?: Record<string, unknown>) => ReturnType<Subject['request']>
  /** The one event of `type` (there must be exactly one), without its time. */
  only: (type: AuthEventType) => Omit<AuthEvent, 'at'>
  /** The channel saw what onEvent saw; every event is frozen, timed now, and holds no secret. */
  check: () => void
}

/** An app on the memory store, with a subscription to the channel (ended at teardown). */
async function subject (t: Test, setup: HarnessOptions = {}): Promise<Subject> {
  const started = Date.now()
  const app = await buildHarness(undefined, cloneUsers(seed), setup)
  const channel: AuthEvent[] = []
  const onMessage = (message: unknown) => { channel.push(message as AuthEvent) }
  diagnosticsChannel.subscribe(EVENT_CHANNEL, onMessage)
  const secrets = new Set([OLD_PASSWORD, NEW_PASSWORD, seed[0]!.passwordHash, otherHash, 'wrong-password-9', 'carol-password-3'])
  const request: Subject['request'] = async (method, url, payload, accessToken) => {
    const response = await app.inject({
      method,
      url,
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      headers: { 'user-agent': UA, ...(accessToken === undefined ? {} : bearer(accessToken)) },
      remoteAddress: IP
    })
    if (response.headers['content-type']?.toString().startsWith('application/json') === true) {
      const body = response.json()
      for (const name of ['access_token', 'refresh_token']) if (typeof body[name] === 'string') secrets.add(body[name])
    }
    return response
  }
  const only = (type: AuthEventType) => {
    const matching = app.events.filter((event) => event.type === type)
    if (matching.length !== 1) throw new Error(`${matching.length} ${type} events: ${JSON.stringify(app.events)}`)
    const { at, ...rest } = matching[0]!
    return rest
  }
  t.teardown(async () => {
    diagnosticsChannel.unsubscribe(EVENT_CHANNEL, onMessage)
    await app.close()
  })
  // Checked while the test runs (tap counts no assertion made in a teardown).
  const check = () => {
    for (const message of app.inbox.messages) secrets.add(message.token).add(tokenDigest(message.token))
    for (const user of app.users) secrets.add(user.passwordHash)
    t.strictSame(channel, app.events, 'the diagnostics channel got the same events as onEvent, in order')
    for (const event of app.events) {
      seen.add(event.type)
      t.ok(Object.isFrozen(event), `${event.type}: frozen`)
      const at = Date.parse(event.at)
      t.ok(new Date(at).toISOString() === event.at && at >= started - 1000 && at <= Date.now() + 1000, `${event.type}: at is an ISO time of now (${event.at})`)
      const text = JSON.stringify(event)
      const leaked = [...secrets].filter((secret) => text.includes(secret))
      t.same(leaked, [], `${event.type}: no password, token or hash in ${text}`)
    }
  }
  const login = (username: string, password: string, extra: Record<string, unknown> = {}) =>
    request('POST', '/auth/login', { username, password, ...extra })
  return { app, channel, secrets, request, login, only, check }
}

const done = (s: Subject) => s.check()
const FROM = { ip: IP, userAgent: UA }

t.test('login.success: userId, familyId of the new session, ip, userAgent', async (t) => {
  const s = await subject(t)
  const login = await s.login('alice', OLD_PASSWORD)
  t.equal(login.statusCode, 200)
  t.strictSame(s.only('login.success'), { type: 'login.success', userId: '1', familyId: familyOf(login.json().refresh_token), ...FROM })
  done(s)
})

t.test('login.failure, for each of the five reasons', async (t) => {
  t.test('unknown_user (and the name typed, maybe a password, is not in it)', async (t) => {
    const s = await subject(t)
    s.secrets.add('my-password-typed-as-username')
    t.equal((await s.login('my-password-typed-as-username', OLD_PASSWORD)).statusCode, 401)
    t.strictSame(s.only('login.failure'), { type: 'login.failure', reason: 'unknown_user', ...FROM })
    done(s)
  })

  t.test('wrong_password', async (t) => {
    const s = await subject(t)
    t.equal((await s.login('alice', 'wrong-password-9')).statusCode, 401)
    t.match(s.only('login.failure'), { type: 'login.failure', reason: 'wrong_password', ...FROM })
    t.equal(s.only('login.failure').familyId, undefined, 'no session, no family')
    done(s)
  })

  t.test('captcha: missing or wrong', async (t) => {
    const s = await subject(t, { routes: { captcha: fixedCaptcha } })
    t.equal((await s.login('alice', OLD_PASSWORD)).statusCode, 400)
    const { captchaId } = (await s.request('GET', '/auth/captcha')).json()
    t.equal((await s.login('alice', OLD_PASSWORD, { captchaId, captcha: `${CAPTCHA_TEXT}x` })).statusCode, 400)
    t.strictSame(s.app.events.map(({ at, ...rest }) => rest), [
      { type: 'login.failure', reason: 'captcha', ...FROM },
      { type: 'login.failure', reason: 'captcha', ...FROM }
    ])
    done(s)
  })

  t.test('locked', async (t) => {
    const s = await subject(t, { routes: { lockout: { maxFailures: 2 } } })
    t.equal((await s.login('alice', 'wrong-password-9')).statusCode, 401)
    t.equal((await s.login('alice', 'wrong-password-9')).statusCode, 401)
    t.equal((await s.login('alice', OLD_PASSWORD)).statusCode, 429)
    const failures = s.app.events.filter((event) => event.type === 'login.failure').map((event) => event.reason)
    t.same(failures, ['wrong_password', 'wrong_password', 'locked'])
    t.match(s.app.events.at(-1), { type: 'login.failure', reason: 'locked', ...FROM })
    done(s)
  })

  t.test('email_not_verified', async (t) => {
    const strict = await subject(t, { routes: { emailVerification: { send: async () => {}, required: true } } })
    t.equal((await strict.login('bob', OLD_PASSWORD)).statusCode, 403)
    t.match(strict.only('login.failure'), { type: 'login.failure', reason: 'email_not_verified', ...FROM })
    t.notOk(strict.app.events.some((event) => event.type === 'login.success'))
    done(strict)
  })

  t.test('a login refused because the password changed while it was checked has a reason too',
    {},
    async (t) => {
      let changeAfterLookup = false
      const s = await subject(t, {
        callbacks: (defaults) => ({
          findByLogin: async (login) => {
            const found = await defaults.findByLogin(login)
            if (changeAfterLookup && login === 'alice') {
              // Another request changes the password right after this login read the old hash.
              changeAfterLookup = false
              s.app.users[0]!.passwordHash = otherHash
            }
            return found
          }
        })
      })
      changeAfterLookup = true
      t.equal((await s.login('alice', OLD_PASSWORD)).statusCode, 401, 'the old password no longer logs in')
      const failure = s.only('login.failure')
      t.ok(REASONS.includes(failure.reason!), `reason ${String(failure.reason)} is one of ${REASONS.join(', ')}`)
      done(s)
    })
})

t.test('lockout: from the login (a name, no user) and from a password change (the user)', async (t) => {
  const s = await subject(t, { routes: { lockout: { maxFailures: 2 } } })
  await s.login('alice', 'wrong-password-9')
  await s.login('alice', 'wrong-password-9')
  t.strictSame(s.only('lockout'), { type: 'lockout', ...FROM })
  done(s)

  const c = await subject(t, { routes: { lockout: { maxFailures: 2 } } })
  const { access_token: token } = (await c.login('alice', OLD_PASSWORD)).json()
  for (let i = 0; i < 2; i++) {
    t.equal((await c.request('POST', '/auth/password/change', { currentPassword: 'wrong-password-9', newPassword: NEW_PASSWORD }, token)).statusCode, 401)
  }
  t.strictSame(c.only('lockout'), { type: 'lockout', userId: '1', ...FROM })
  done(c)
})

t.test('refresh: userId, familyId, ip, userAgent', async (t) => {
  const s = await subject(t)
  const login = (await s.login('alice', OLD_PASSWORD)).json()
  const refreshed = await s.request('POST', '/auth/refresh', { refresh_token: login.refresh_token })
  t.equal(refreshed.statusCode, 200)
  t.strictSame(s.only('refresh'), { type: 'refresh', userId: '1', familyId: familyOf(login.refresh_token), ...FROM })
  done(s)
})

t.test('refresh.reuse: userId, familyId, ip, userAgent', async (t) => {
  const s = await subject(t, { options: { refreshGrace: 0 } })
  const login = (await s.login('alice', OLD_PASSWORD)).json()
  t.equal((await s.request('POST', '/auth/refresh', { refresh_token: login.refresh_token })).statusCode, 200)
  const reused = await s.request('POST', '/auth/refresh', { refresh_token: login.refresh_token })
  t.equal(reused.json().code, 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED')
  t.strictSame(s.only('refresh.reuse'), { type: 'refresh.reuse', userId: '1', familyId: familyOf(login.refresh_token), ...FROM })
  done(s)
})

t.test('refresh.unknown: userId, familyId, ip, userAgent (a record the store lost: no reuse)', async (t) => {
  const s = await subject(t)
  const login = (await s.login('alice', OLD_PASSWORD)).json()
  const { fam, jti } = decodePart(login.refresh_token, 1) as { fam: string, jti: string }
  await (s.app.jwtAuth.store as AuthStore).refreshTokens.discard(fam, jti)
  const unknown = await s.request('POST', '/auth/refresh', { refresh_token: login.refresh_token })
  t.equal(unknown.json().code, 'FST_JWT_AUTH_REFRESH_TOKEN_UNKNOWN')
  t.strictSame(s.only('refresh.unknown'), { type: 'refresh.unknown', userId: '1', familyId: fam, ...FROM })
  t.notOk(s.app.events.some((event) => event.type === 'refresh.reuse'))
  done(s)
})

t.test('logout: userId, familyId, ip, userAgent (the API: no request, no ip)', async (t) => {
  const s = await subject(t)
  const login = (await s.login('alice', OLD_PASSWORD)).json()
  t.equal((await s.request('POST', '/auth/logout', {}, login.access_token)).statusCode, 204)
  t.strictSame(s.only('logout'), { type: 'logout', userId: '1', familyId: familyOf(login.refresh_token), ...FROM })
  const second = (await s.login('alice', OLD_PASSWORD)).json()
  await s.app.jwtAuth.revoke(second.refresh_token)
  const { at, ...fromApi } = s.app.events.at(-1)!
  t.strictSame(fromApi, { type: 'logout', userId: '1', familyId: familyOf(second.refresh_token) })
  done(s)
})

t.test('revoke.all (the API only): userId', async (t) => {
  const s = await subject(t)
  await s.login('alice', OLD_PASSWORD)
  await s.app.jwtAuth.revokeAll(1)
  t.strictSame(s.only('revoke.all'), { type: 'revoke.all', userId: '1' })
  done(s)
})

t.test('register: the new user\'s id, ip, userAgent', async (t) => {
  const s = await subject(t)
  const registered = await s.request('POST', '/auth/register', { username: 'carol', password: 'carol-password-3' })
  t.equal(registered.statusCode, 201)
  t.strictSame(s.only('register'), { type: 'register', userId: '3', ...FROM })
  done(s)
})

t.test('password.change: userId, the family that goes on, ip, userAgent (the API: userId only)', async (t) => {
  const s = await subject(t)
  const login = (await s.login('alice', OLD_PASSWORD)).json()
  const changed = await s.request('POST', '/auth/password/change', { currentPassword: OLD_PASSWORD, newPassword: NEW_PASSWORD }, login.access_token)
  t.equal(changed.statusCode, 200)
  t.equal(familyOf(changed.json().refresh_token), familyOf(login.refresh_token), 'the session goes on in its family')
  t.strictSame(s.only('password.change'), { type: 'password.change', userId: '1', familyId: familyOf(login.refresh_token), ...FROM })
  await s.app.jwtAuth.changePassword(2, 'bobs-new-password')
  s.secrets.add('bobs-new-password')
  const { at, ...fromApi } = s.app.events.at(-1)!
  t.strictSame(fromApi, { type: 'password.change', userId: '2' })
  done(s)
})

t.test('password.reset.request: userId when the login is known, none when not; ip, userAgent', async (t) => {
  const s = await subject(t)
  t.equal((await s.request('POST', '/auth/password/forgot', { username: 'alice' })).statusCode, 202)
  t.equal((await s.request('POST', '/auth/password/forgot', { username: 'mallory' })).statusCode, 202)
  t.ok(await eventually(() => s.app.events.length === 2, 1000), 'both, after the answers')
  await s.app.inbox.next('reset')
  const events = s.app.events.map(({ at, ...rest }) => rest)
  t.strictSame(events.find((event) => event.userId !== undefined), { type: 'password.reset.request', userId: '1', ...FROM })
  t.strictSame(events.find((event) => event.userId === undefined), { type: 'password.reset.request', ...FROM })
  done(s)
})

t.test('password.reset: userId, ip, userAgent', async (t) => {
  const s = await subject(t)
  await s.app.jwtAuth.requestPasswordReset('alice')
  const { token } = await s.app.inbox.next('reset')
  t.equal((await s.request('POST', '/auth/password/reset', { token, password: NEW_PASSWORD })).statusCode, 204)
  t.strictSame(s.only('password.reset'), { type: 'password.reset', userId: '1', ...FROM })
  done(s)
})

t.test('email.verify: userId, ip, userAgent', async (t) => {
  const s = await subject(t)
  const { access_token: token } = (await s.login('bob', OLD_PASSWORD)).json()
  t.equal((await s.request('POST', '/auth/email/verify/request', {}, token)).statusCode, 202)
  const message = await s.app.inbox.next('verify')
  t.equal((await s.request('POST', '/auth/email/verify', { token: message.token })).statusCode, 204)
  t.strictSame(s.only('email.verify'), { type: 'email.verify', userId: '2', ...FROM })
  done(s)
})

t.test('failures of the account flows: a wrong current password, a locked one, a bad reset or verification token', async (t) => {
  const s = await subject(t, { routes: { lockout: { maxFailures: 1 } } })
  const { access_token: token } = (await s.login('alice', OLD_PASSWORD)).json()
  const change = (currentPassword: string) => s.request('POST', '/auth/password/change', { currentPassword, newPassword: NEW_PASSWORD }, token)
  t.equal((await change('wrong-password-9')).statusCode, 401)
  t.equal((await change(OLD_PASSWORD)).statusCode, 429)
  t.strictSame(s.app.events.filter((event) => event.type === 'password.change.failure').map(({ at, ...rest }) => rest), [
    { type: 'password.change.failure', userId: '1', reason: 'wrong_password', ...FROM },
    { type: 'password.change.failure', userId: '1', reason: 'locked', ...FROM }
  ])
  t.equal((await s.request('POST', '/auth/password/reset', { token: 'A'.repeat(43), password: NEW_PASSWORD })).statusCode, 400)
  t.strictSame(s.only('password.reset.failure'), { type: 'password.reset.failure', ...FROM }, 'no user for an unknown token')
  t.equal((await s.request('POST', '/auth/email/verify', { token: 'B'.repeat(43) })).statusCode, 400)
  t.strictSame(s.only('email.verify.failure'), { type: 'email.verify.failure', ...FROM })
  done(s)
})

t.test('every event type was seen above', async (t) => {
  t.same([...seen].sort(), [...ALL_TYPES].sort())
})

for (const mode of ['throws', 'rejects'] as const) {
  t.test(`onEvent ${mode}: the request succeeds, the error is logged, the channel still gets the event`, async (t) => {
    const onEvent = mode === 'throws'
      ? () => { throw new Error('audit sink down') }
      : async () => { throw new Error('audit sink down') }
    const s = await subject(t, { options: { onEvent } })
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => { unhandled.push(reason) }
    process.on('unhandledRejection', onUnhandled)
    t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
    const login = await s.login('alice', OLD_PASSWORD)
    t.equal(login.statusCode, 200)
    t.equal((await s.request('GET', '/auth/me', undefined, login.json().access_token)).statusCode, 200, 'the session works')
    t.equal((await s.request('POST', '/auth/refresh', { refresh_token: login.json().refresh_token })).statusCode, 200)
    t.ok(await eventually(() => s.app.logs.filter((line) => line.includes('onEvent failed')).length === 2, 1000), 'both failures logged')
    for (const line of s.app.logs.filter((text) => text.includes('onEvent failed'))) {
      const entry = JSON.parse(line)
      t.equal(entry.level, 50)
      t.equal(entry.err.message, 'audit sink down')
    }
    t.same(s.channel.map((event) => event.type), ['login.success', 'refresh'], 'subscribers are not hurt by onEvent')
    await sleep(10)
    t.same(unhandled, [], 'no unhandled rejection')
  })
}

t.test('an onEvent that never settles delays nothing', async (t) => {
  const s = await subject(t, { options: { onEvent: () => new Promise(() => {}) } })
  const started = performance.now()
  t.equal((await s.login('alice', 'wrong-password-9')).statusCode, 401)
  t.equal((await s.login('alice', OLD_PASSWORD)).statusCode, 200)
  t.ok(performance.now() - started < 1000, `${Math.round(performance.now() - started)} ms`)
})

t.test('no onEvent, a subscriber: the channel alone gets the events', async (t) => {
  const s = await subject(t, { options: { onEvent: undefined } })
  t.equal((await s.login('alice', OLD_PASSWORD)).statusCode, 200)
  t.equal((await s.login('alice', 'wrong-password-9')).statusCode, 401)
  t.same(s.channel.map((event) => [event.type, event.reason]), [['login.success', undefined], ['login.failure', 'wrong_password']])
  t.same(s.app.events, [], 'no onEvent was called')
})

t.test('no onEvent and no subscriber: every flow works, nothing is logged as an error', async (t) => {
  t.notOk(diagnosticsChannel.hasSubscribers(EVENT_CHANNEL), 'nobody listens')
  const app = await buildHarness(undefined, cloneUsers(seed), { options: { onEvent: undefined, refreshGrace: 0 } })
  t.teardown(() => app.close())
  const post = (url: string, payload: unknown, token?: string) =>
    app.inject({ method: 'POST', url, payload: payload as Record<string, unknown>, headers: token === undefined ? {} : bearer(token) })
  const statuses: Record<string, number> = {}
  const login = await post('/auth/login', { username: 'alice', password: OLD_PASSWORD })
  statuses.login = login.statusCode
  statuses.unknown = (await post('/auth/login', { username: 'mallory', password: OLD_PASSWORD })).statusCode
  statuses.wrong = (await post('/auth/login', { username: 'alice', password: 'wrong-password-9' })).statusCode
  const { refresh_token: first } = login.json()
  const refreshed = await post('/auth/refresh', { refresh_token: first })
  statuses.refresh = refreshed.statusCode
  statuses.reuse = (await post('/auth/refresh', { refresh_token: first })).statusCode
  const bob = (await post('/auth/login', { username: 'bob', password: OLD_PASSWORD })).json()
  statuses.verifyRequest = (await post('/auth/email/verify/request', {}, bob.access_token)).statusCode
  statuses.verify = (await post('/auth/email/verify', { token: (await app.inbox.next('verify')).token })).statusCode
  statuses.change = (await post('/auth/password/change', { currentPassword: OLD_PASSWORD, newPassword: NEW_PASSWORD }, bob.access_token)).statusCode
  statuses.forgot = (await post('/auth/password/forgot', { username: 'alice' })).statusCode
  statuses.reset = (await post('/auth/password/reset', { token: (await app.inbox.next('reset')).token, password: NEW_PASSWORD })).statusCode
  const again = (await post('/auth/login', { username: 'alice', password: NEW_PASSWORD })).json()
  statuses.logout = (await post('/auth/logout', {}, again.access_token)).statusCode
  statuses.register = (await post('/auth/register', { username: 'carol', password: 'carol-password-3' })).statusCode
  await app.jwtAuth.revokeAll(1)
  const expected = { login: 200, unknown: 401, wrong: 401, refresh: 200, reuse: 401, verifyRequest: 202, verify: 204, change: 200, forgot: 202, reset: 204, logout: 204, register: 201 }
  t.strictSame(statuses, expected)
  t.same(app.events, [])
  t.same(app.logs.filter((line) => JSON.parse(line).level >= 50), [], 'no error logged')
})
