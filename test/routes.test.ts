import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { hash } from '@node-rs/argon2'
import t from 'tap'
import jwtAuth, { hashPassword, type MemoryStore } from '../lib/index.js'
import { bearer, SECRET } from './helpers/app.js'
import { buildRoutesApp, CAPTCHA_TEXT, fixedCaptcha, getCaptcha, login, PASSWORDS, seedUsers } from './helpers/routes-app.js'
import { fakeClock } from './helpers/clock.js'
import { keyValueStore } from './helpers/kv-store.js'

const users = await seedUsers()

t.test('routes are off by default', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET })
  t.equal((await app.inject({ method: 'POST', url: '/auth/login', payload: {} })).statusCode, 404)
  await app.close()
})

t.test('GET /captcha: a one-time SVG challenge whose answer is never sent nor logged', async (t) => {
  const logs: string[] = []
  const stream = new Writable({ write (chunk, encoding, done) { logs.push(String(chunk)); done() } })
  const app = Fastify({ logger: { level: 'trace', stream } })
  await app.register(jwtAuth, { secret: SECRET, routes: true, users: { findByLogin: async () => null } })
  t.teardown(() => app.close())
  const response = await app.inject({ url: '/auth/captcha' })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['cache-control'], 'no-store')
  const body = response.json()
  t.match(body.captchaId, /^[0-9a-f-]{36}$/)
  t.equal(body.expiresIn, 300, 'five minutes by default')
  t.match(body.image, /^data:image\/svg\+xml;base64,/)
  const svg = Buffer.from(body.image.split(',')[1], 'base64').toString()
  t.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/, 'svg-captcha made an SVG')
  t.notMatch(svg, /<text/, 'the characters are drawn as paths, not text')
  const store = app.jwtAuth.store as MemoryStore
  const answer = await store.challenges.take(`captcha:${body.captchaId}`)
  t.match(answer, /^[a-z0-9]{5}$/i, 'the answer is in the store')
  t.notOk(response.body.toLowerCase().includes(answer!), 'the answer is not in the response')
  t.notOk(logs.join('').toLowerCase().includes(answer!), 'the answer is not in the logs')
  t.ok(logs.length > 0, 'logs were written')
  const second = (await app.inject({ url: '/auth/captcha' })).json()
  t.not(second.captchaId, body.captchaId)
})

t.test('login', async (t) => {
  const app = await buildRoutesApp({ users, options: { rateLimit: false } })
  t.teardown(() => app.close())

  t.test('with the right password and captcha (case-insensitive): a token pair, not cached', async (t) => {
    const captchaId = await getCaptcha(app)
    const response = await login(app, 'alice', PASSWORDS.alice, { captchaId, captcha: CAPTCHA_TEXT.toUpperCase() })
    t.equal(response.statusCode, 200)
    t.equal(response.headers['cache-control'], 'no-store')
    t.equal(response.headers.pragma, 'no-cache')
    const body = response.json()
    t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type'])
    t.equal(body.token_type, 'Bearer')
    t.equal(body.expires_in, 900)
    const me = await app.inject({ url: '/auth/me', headers: bearer(body.access_token) })
    t.equal(me.statusCode, 200)
    t.same(me.json(), { id: 1, username: 'alice', roles: ['admin'] }, 'the user, without passwordHash')
  })

  t.test('a captcha is spent by its first attempt, right or wrong', async (t) => {
    const captchaId = await getCaptcha(app)
    t.equal((await login(app, 'alice', PASSWORDS.alice, { captchaId, captcha: CAPTCHA_TEXT })).statusCode, 200)
    const reused = await login(app, 'alice', PASSWORDS.alice, { captchaId, captcha: CAPTCHA_TEXT })
    t.equal(reused.statusCode, 400)
    t.same(reused.json(), { statusCode: 400, code: 'FST_JWT_AUTH_INVALID_CAPTCHA', error: 'Bad Request', message: 'The captcha answer is wrong or expired' })
    const other = await getCaptcha(app)
    t.equal((await login(app, 'alice', PASSWORDS.alice, { captchaId: other, captcha: 'wrong' })).statusCode, 400)
    t.equal((await login(app, 'alice', PASSWORDS.alice, { captchaId: other, captcha: CAPTCHA_TEXT })).statusCode, 400, 'the right answer after a wrong one is too late')
  })

  t.test('a missing or unknown captcha fails before the password is checked', async (t) => {
    const before = app.calls.findByLogin.length
    for (const captcha of [{}, { captchaId: await getCaptcha(app) }, { captcha: CAPTCHA_TEXT }, { captchaId: 'made-up', captcha: CAPTCHA_TEXT }]) {
      const response = await login(app, 'alice', PASSWORDS.alice, captcha)
      t.equal(response.statusCode, 400)
      t.equal(response.json().code, 'FST_JWT_AUTH_INVALID_CAPTCHA')
      t.notOk(response.headers['www-authenticate'])
    }
    t.equal(app.calls.findByLogin.length, before, 'findByLogin never called')
  })

  t.test('unknown user and wrong password: one status, one code, one message, one argon2 verify each', async (t) => {
    const verified: string[] = []
    const verify = app.jwtAuth.verifyPassword
    app.jwtAuth.verifyPassword = async (hashed, plain) => { verified.push(hashed); return verify(hashed, plain) }
    t.teardown(() => { app.jwtAuth.verifyPassword = verify })
    const wrongPassword = await login(app, 'alice', 'not-her-password')
    const unknownUser = await login(app, 'mallory', 'whatever-password')
    for (const response of [wrongPassword, unknownUser]) {
      t.equal(response.statusCode, 401)
      t.same(response.json(), { statusCode: 401, code: 'FST_JWT_AUTH_INVALID_CREDENTIALS', error: 'Unauthorized', message: 'Invalid username or password' })
      t.notOk(response.headers['www-authenticate'], 'no bearer challenge on login')
    }
    t.equal(verified.length, 2, 'the unknown user costs an argon2 verify too')
    t.match(verified[1], /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'against a dummy hash of the same parameters')
  })

  t.test('passwords: over 1 KiB refused before any lookup or hashing; 64 characters and more allowed', async (t) => {
    const before = app.calls.findByLogin.length
    const response = await login(app, 'alice', 'a'.repeat(1025))
    t.equal(response.statusCode, 400)
    t.equal(response.json().code, 'FST_ERR_VALIDATION')
    t.equal(app.calls.findByLogin.length, before)
    const long = 'Ü'.repeat(1024)
    const longUsers = [{ id: 9, username: 'long', passwordHash: await hashPassword(long), roles: [] }]
    const other = await buildRoutesApp({ users: longUsers, options: { rateLimit: false } })
    t.teardown(() => other.close())
    t.equal((await login(other, 'long', long)).statusCode, 200, '1024 characters work')
    t.equal((await login(other, 'long', long.slice(0, 64))).statusCode, 401)
  })

  t.test('a body over 16 KiB is refused unparsed', async (t) => {
    const response = await app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ username: 'a', password: 'b', pad: 'x'.repeat(20_000) }) })
    t.equal(response.statusCode, 413)
  })
})

t.test('login without captcha when it is off', async (t) => {
  const app = await buildRoutesApp({ users, routes: { captcha: false } })
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/auth/captcha' })).statusCode, 404)
  t.equal((await login(app, 'alice', PASSWORDS.alice, {})).statusCode, 200)
})

t.test('rehash on login when needsRehash says so', async (t) => {
  const weak = [{ id: 5, username: 'old', passwordHash: await hash('old-password', { algorithm: 2, memoryCost: 8192, timeCost: 2 }), roles: [] }]
  const app = await buildRoutesApp({ users: weak })
  t.teardown(() => app.close())
  t.equal((await login(app, 'old', 'old-password')).statusCode, 200)
  t.equal(app.calls.updatePasswordHash.length, 1)
  t.equal(app.calls.updatePasswordHash[0]![0], '5')
  t.match(app.calls.updatePasswordHash[0]![1], /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  t.equal((await login(app, 'old', 'old-password')).statusCode, 200, 'the upgraded hash works')
  t.equal(app.calls.updatePasswordHash.length, 1, 'no second rehash')
})

t.test('a failing updatePasswordHash does not fail the login', async (t) => {
  const weak = [{ id: 5, username: 'old', passwordHash: await hash('old-password', { algorithm: 0 }), roles: [] }]
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET,
    routes: { captcha: false },
    users: { findByLogin: async () => weak[0], updatePasswordHash: async () => { throw new Error('db read-only') } }
  })
  t.teardown(() => app.close())
  t.equal((await login(app, 'old', 'old-password', {})).statusCode, 200)
})

t.test('a user record without a password hash can never log in', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, routes: { captcha: false }, users: { findByLogin: async () => ({ id: 1 }) as never } })
  t.teardown(() => app.close())
  t.equal((await login(app, 'sso-only', 'anything-at-all', {})).statusCode, 401)
})

t.test('per-account lockout', async (t) => {
  const clock = fakeClock(t)
  const app = await buildRoutesApp({ users, routes: { captcha: false, lockout: { maxFailures: 3, window: '10m', duration: '5m' } }, options: { rateLimit: false } })
  t.teardown(() => app.close())
  const attempt = async (username: string, password: string) => login(app, username, password, {})

  for (let i = 0; i < 3; i++) t.equal((await attempt('alice', 'wrong')).statusCode, 401)
  const locked = await attempt('alice', PASSWORDS.alice)
  t.equal(locked.statusCode, 429, 'locked even with the right password')
  t.equal(locked.json().code, 'FST_JWT_AUTH_ACCOUNT_LOCKED')
  t.equal(locked.headers['retry-after'], '300')
  t.equal((await attempt('ALICE ', 'wrong')).statusCode, 429, 'the lock ignores case and spaces')
  t.equal((await attempt('bob', PASSWORDS.bob)).statusCode, 200, 'other accounts are not locked')

  for (let i = 0; i < 3; i++) await attempt('nobody-here', 'x')
  t.equal((await attempt('nobody-here', 'x')).statusCode, 429, 'unknown names lock the same way: no enumeration')

  clock.now += 301_000
  t.equal((await attempt('alice', PASSWORDS.alice)).statusCode, 200, 'open again after the duration')

  await attempt('bob', 'wrong')
  await attempt('bob', 'wrong')
  t.equal((await attempt('bob', PASSWORDS.bob)).statusCode, 200, 'a success resets the count')
  await attempt('bob', 'wrong')
  await attempt('bob', 'wrong')
  t.equal((await attempt('bob', PASSWORDS.bob)).statusCode, 200)
})

t.test('lockout can be turned off', async (t) => {
  const app = await buildRoutesApp({ users, routes: { captcha: false, lockout: false }, options: { rateLimit: false } })
  t.teardown(() => app.close())
  for (let i = 0; i < 8; i++) await login(app, 'alice', 'wrong', {})
  t.equal((await login(app, 'alice', PASSWORDS.alice, {})).statusCode, 200)
})

t.test('lockout works on a key-value store with increment', async (t) => {
  const store = keyValueStore({ atomic: true })
  const app = await buildRoutesApp({ users, routes: { captcha: false, lockout: { maxFailures: 2 } }, options: { rateLimit: false, store } })
  t.teardown(() => app.close())
  await login(app, 'alice', 'wrong', {})
  await login(app, 'alice', 'wrong', {})
  t.equal((await login(app, 'alice', PASSWORDS.alice, {})).statusCode, 429)
  const locks = [...store.kinds].filter(([key]) => key.startsWith('lk:'))
  t.equal(locks.length, 2, 'the name and the account it names')
  for (const [key, kind] of locks) {
    t.equal(kind, 'durable', 'a lock is durable')
    t.notMatch(key, /alice/, 'named by a digest, not by the login')
  }
})

t.test('refresh and logout', async (t) => {
  const app = await buildRoutesApp({ users, options: { rateLimit: false } })
  t.teardown(() => app.close())
  const first = (await login(app, 'bob', PASSWORDS.bob)).json()

  const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: first.refresh_token } })
  t.equal(refreshed.statusCode, 200)
  t.equal(refreshed.headers['cache-control'], 'no-store')
  const second = refreshed.json()
  t.same(Object.keys(second).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type'])

  const retried = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: first.refresh_token } })
  t.same(retried.json(), second, 'a retry within the grace gets the same pair')
  const latest = (await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: second.refresh_token } })).json()
  const reused = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: first.refresh_token } })
  t.equal(reused.statusCode, 401, 'once its successor was used, the first token is a reuse')
  t.equal(reused.json().code, 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED')
  t.equal((await app.inject({ url: '/auth/me', headers: bearer(latest.access_token) })).statusCode, 401, 'reuse ended the session')

  const third = (await login(app, 'bob', PASSWORDS.bob)).json()
  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: third.access_token } })).json().code, 'FST_JWT_AUTH_WRONG_TOKEN_TYPE')
  for (const payload of ['{}', '{"refresh_token":""}', '{"refresh_token":{}}', '{not json']) {
    t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', payload, headers: { 'content-type': 'application/json' } })).statusCode, 400, payload)
  }

  const logout = await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(third.access_token) })
  t.equal(logout.statusCode, 204)
  t.equal(logout.body, '')
  const after = await app.inject({ url: '/auth/me', headers: bearer(third.access_token) })
  t.equal(after.statusCode, 401)
  t.equal(after.json().code, 'FST_JWT_AUTH_TOKEN_REVOKED')
  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: third.refresh_token } })).statusCode, 401, 'logout ended the refresh token too')

  const anonymous = await app.inject({ method: 'POST', url: '/auth/logout' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.headers['www-authenticate'], 'Bearer realm="api"')
  t.equal((await app.inject({ url: '/auth/me' })).statusCode, 401)
})

t.test('a custom prefix', async (t) => {
  const app = await buildRoutesApp({ users, routes: { prefix: '/api/v1/session', captcha: false } })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/session/login', payload: { username: 'alice', password: PASSWORDS.alice } })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/auth/login', payload: {} })).statusCode, 404)
})

t.test('register', async (t) => {
  const store = [...(await seedUsers())]
  const app = await buildRoutesApp({
    users: store,
    create: true,
    routes: {
      captcha: fixedCaptcha,
      profile: { displayName: { type: 'string', maxLength: 100 } },
      passwordPolicy: (password, { username }) => password.toLowerCase().includes(username.toLowerCase()) ? 'The password must not contain the username' : undefined
    },
    options: { rateLimit: false }
  })
  t.teardown(() => app.close())
  const register = async (body: Record<string, unknown>, withCaptcha = true) => app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: withCaptcha ? { ...body, captchaId: await getCaptcha(app), captcha: CAPTCHA_TEXT } : body
  })

  const hostile = { roles: ['admin'], id: 99, passwordHash: 'x', isAdmin: true, role: 'admin', emailVerified: true, tenantId: 't', scopes: 'all', disabled: false }
  const created = await register({ username: 'carol', password: 'secret-pass-1', displayName: 'Carol', ...hostile })
  t.equal(created.statusCode, 201)
  t.equal(created.json().token_type, 'Bearer')
  const carol = store.find((user) => user.username === 'carol')!
  t.match(carol.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'stored as an argon2id hash')
  t.equal(carol.displayName, 'Carol', 'profile fields reach users.create')
  t.same(carol.roles, ['user'], 'roles from the body are dropped (no mass assignment)')
  t.equal(carol.id, 3, 'so is id')
  t.same(Object.keys(carol).sort(), ['displayName', 'id', 'passwordHash', 'roles', 'username'], 'only the declared profile reached users.create')
  const me = await app.inject({ url: '/auth/me', headers: bearer(created.json().access_token) })
  t.equal(me.json().username, 'carol')
  t.equal((await login(app, 'carol', 'secret-pass-1')).statusCode, 200, 'the new account logs in')

  const taken = await register({ username: 'alice', password: 'another-password' })
  t.equal(taken.statusCode, 409)
  t.equal(taken.json().code, 'FST_JWT_AUTH_USERNAME_TAKEN')

  const short = await register({ username: 'dave', password: 'short' })
  t.equal(short.statusCode, 400)
  t.same(short.json(), { statusCode: 400, code: 'FST_JWT_AUTH_WEAK_PASSWORD', error: 'Bad Request', message: 'The password must have at least 8 characters' })
  t.equal((await register({ username: 'dave', password: 'é'.repeat(7) })).statusCode, 400, 'characters, not bytes')
  const long = await register({ username: 'dave', password: 'x'.repeat(1025) })
  t.equal(long.json().message, 'The password must have at most 1024 characters')
  const policy = await register({ username: 'dave', password: 'my-name-is-dave' })
  t.equal(policy.statusCode, 400)
  t.equal(policy.json().message, 'The password must not contain the username')
  t.equal((await register({ username: 'dave', password: 'fine-password' }, false)).json().code, 'FST_JWT_AUTH_INVALID_CAPTCHA', 'captcha required when on')
  t.equal(store.filter((user) => user.username === 'dave').length, 0, 'no refused attempt created a user')
})

t.test('no POST /register without users.create', async (t) => {
  const app = await buildRoutesApp({ users })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'POST', url: '/auth/register', payload: { username: 'x', password: 'y' } })).statusCode, 404)
})

t.test('swagger-login: OAuth2 password flow, only when asked for', async (t) => {
  const off = await buildRoutesApp({ users })
  t.teardown(() => off.close())
  t.equal((await off.inject({ method: 'POST', url: '/auth/swagger-login', payload: 'username=alice&password=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).statusCode, 404)

  const app = await buildRoutesApp({ users, routes: { captcha: fixedCaptcha, swaggerLogin: true } })
  t.teardown(() => app.close())
  const form = (body: string) => app.inject({ method: 'POST', url: '/auth/swagger-login', payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  const ok = await form(`grant_type=password&username=alice&password=${encodeURIComponent(PASSWORDS.alice)}&scope=`)
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers['cache-control'], 'no-store')
  const body = ok.json()
  t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'token_type'])
  t.equal((await app.inject({ url: '/auth/me', headers: bearer(body.access_token) })).statusCode, 200)
  t.equal((await form('username=alice&password=wrong')).statusCode, 401)
  t.equal((await form('username=alice')).statusCode, 400)
  t.equal((await form('grant_type=client_credentials&username=alice&password=x')).statusCode, 400)
})

t.test('a custom captcha generator must return { text, svg } strings', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, routes: { captcha: { create: () => ({ text: '', svg: '<svg/>' }) } }, users: { findByLogin: async () => null } })
  t.teardown(() => app.close())
  const response = await app.inject({ url: '/auth/captcha' })
  t.equal(response.statusCode, 500, 'an app bug, reported as such')
  const bad = Fastify()
  await bad.register(jwtAuth, { secret: SECRET, routes: { captcha: { ttl: 60, create: async () => ({ text: 'abc', svg: 42 as unknown as string }) } }, users: { findByLogin: async () => null } })
  t.teardown(() => bad.close())
  t.equal((await bad.inject({ url: '/auth/captcha' })).statusCode, 500)
})

t.test('/me never returns a password or its hash, whatever findById gives', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET,
    routes: { captcha: false },
    users: { findByLogin: async () => null, findById: async (id) => ({ id, password: 'plain', passwordHash: 'hash', name: 'n' }) }
  })
  t.teardown(() => app.close())
  const { accessToken } = await app.jwtAuth.issue({ id: 4 })
  t.same((await app.inject({ url: '/auth/me', headers: bearer(accessToken) })).json(), { id: '4', name: 'n' })
})
