// POST /reauthenticate: the logged-in user proves it again for a new pair of its session, with a fresh auth_time.
import swagger from '@fastify/swagger'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import jwtAuth, { memoryStore, type AuthEvent, type AuthStore, type JwtAuthOptions } from '../lib/index.js'
import { reauthenticationVerifiers, type CodeVerifier } from '../lib/tokens/authentication.js'
import { bearer, decodePart, SECRET, STORE_FACTORIES, type AnyStore } from './helpers/app.js'
import { fakeClock } from './helpers/clock.js'
import { PASSWORDS, seedUsers, type StoredUser } from './helpers/routes-app.js'

const ACR = [{ value: 'mfa', amr: ['pwd', 'otp'] }, { value: 'pwd', amr: ['pwd'] }]
const seconds = (): number => Math.floor(Date.now() / 1000)
const claimsOf = (token: string) => decodePart(token, 1)
const seeded = await seedUsers()

type App = FastifyInstance & { events: AuthEvent[] }

interface Build {
  store?: AnyStore
  users?: StoredUser[]
  routes?: Record<string, unknown>
  options?: Record<string, unknown>
  findById?: (id: string) => Promise<unknown>
}

/** The plugin's routes (no captcha, no rate limit unless asked), /recent (maxAge 5m), /otp (amr otp), events kept. */
async function reauthApp (t: Test, { store, users = seeded.map((user) => ({ ...user })), routes = {}, options = {}, findById }: Build = {}): Promise<App> {
  const app = Fastify() as unknown as App
  app.events = []
  const byId = async (id: string) => users.find((user) => String(user.id) === id) ?? null
  await app.register(jwtAuth, {
    secret: SECRET,
    ...(store === undefined ? {} : { store }),
    rateLimit: false,
    acr: ACR,
    routes: { captcha: false, ...routes },
    users: {
      findById: findById ?? byId,
      findByLogin: async (login: string) => users.find((user) => user.username === login) ?? null,
      updatePasswordHash: async () => {}
    },
    onEvent: (event: AuthEvent) => { app.events.push(event) },
    ...options
  } as JwtAuthOptions)
  app.get('/recent', { onRequest: app.authorize({ maxAge: '5m' }) }, async () => ({ ok: true }))
  app.get('/otp', { onRequest: app.authorize({ amr: ['otp'] }) }, async () => ({ ok: true }))
  await app.ready()
  t.teardown(() => app.close())
  return app
}

const reauth = async (app: FastifyInstance, token: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
  await app.inject({ method: 'POST', url: '/auth/reauthenticate', headers: { ...bearer(token), ...headers }, payload })
const get = async (app: FastifyInstance, url: string, token: string) => await app.inject({ url, headers: bearer(token) })
const refresh = async (app: FastifyInstance, token: string) =>
  await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } })

for (const { name, create } of STORE_FACTORIES) {
  t.test(`a password reauthenticates the session: same family, fresh auth_time, the old refresh token spent (${name} store)`, async (t) => {
    const clock = fakeClock(t)
    const store = await create()
    t.teardown(() => store.close?.())
    // A key-value store without increment cannot count failures: no lockout there (tested below).
    const app = await reauthApp(t, { store, routes: { lockout: false } })
    const login = await app.jwtAuth.issue({ id: 1, roles: ['admin'] }, { amr: ['pwd', 'otp'], claims: { tenant: 't1' }, scope: 'orders', metadata: { ip: '10.0.0.1' } })
    const [started] = await app.jwtAuth.sessions(1)
    clock.now += 600_000
    t.equal((await get(app, '/recent', login.accessToken)).statusCode, 401, 'too old now')

    const response = await reauth(app, login.accessToken, { password: PASSWORDS.alice })
    t.equal(response.statusCode, 200)
    t.equal(response.headers['cache-control'], 'no-store')
    const pair = response.json()
    const claims = claimsOf(pair.access_token)
    t.match(claims, { sub: '1', fam: claimsOf(login.accessToken).fam, amr: ['pwd'], auth_time: seconds(), acr: 'pwd', tenant: 't1', scope: 'orders', roles: ['admin'] },
      'the session goes on with its claims; amr and acr are the new proofs\'')
    t.equal((await get(app, '/recent', pair.access_token)).statusCode, 200)
    t.equal((await get(app, '/otp', pair.access_token)).statusCode, 401, 'a password alone does not prove otp')

    const sessions = await app.jwtAuth.sessions(1)
    t.equal(sessions.length, 1, 'one session still')
    t.equal(sessions[0]!.createdAt, started!.createdAt, 'that started when it did')

    // The old access token lives on until it expires, with its older authentication.
    t.equal((await get(app, '/auth/me', login.accessToken)).statusCode, 200)
    t.equal((await get(app, '/recent', login.accessToken)).statusCode, 401)

    // The new refresh token keeps the new authentication.
    clock.now += 60_000
    const next = (await refresh(app, pair.refresh_token)).json()
    t.match(claimsOf(next.access_token), { amr: ['pwd'], auth_time: seconds() - 60, fam: claims.fam })

    // The old refresh token was spent: presenting it is a reuse, which ends the session.
    const reused = await refresh(app, login.refreshToken)
    t.equal(reused.statusCode, 401)
    t.equal(reused.json().code, 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED')
    t.equal((await get(app, '/auth/me', next.access_token)).statusCode, 401, 'the whole session')
    t.match(app.events.find((event) => event.type === 'reauthenticate'), { userId: '1', familyId: claims.fam })
  })
}

t.test('a wrong password: 401, an event, and counted by the lockout shared with login', async (t) => {
  const app = await reauthApp(t, { routes: { lockout: { maxFailures: 3 } } })
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  for (let i = 0; i < 3; i++) {
    const response = await reauth(app, accessToken, { password: 'wrong-password' })
    t.equal(response.statusCode, 401)
    t.equal(response.json().code, 'FST_JWT_AUTH_INVALID_CREDENTIALS')
  }
  const locked = await reauth(app, accessToken, { password: PASSWORDS.alice })
  t.equal(locked.statusCode, 429)
  t.ok(Number(locked.headers['retry-after']) > 0)
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'alice', password: PASSWORDS.alice } })
  t.equal(login.statusCode, 429, 'the account is locked for logins too')
  const failures = app.events.filter((event) => event.type === 'reauthenticate.failure')
  t.same(failures.map((event) => event.reason), ['wrong_password', 'wrong_password', 'wrong_password', 'locked'])
  t.ok(app.events.some((event) => event.type === 'lockout' && event.userId === '1'))
  t.notOk(app.events.some((event) => event.type === 'reauthenticate'))
  t.notMatch(JSON.stringify(app.events), /wrong-password|alice-password/, 'no password in an event')
})

t.test('{ code } without a second factor: 400, nothing counted', async (t) => {
  const app = await reauthApp(t, { routes: { lockout: { maxFailures: 1 } } })
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  for (const payload of [{ code: '123456' }, { password: 'wrong-password', code: '123456' }]) {
    const response = await reauth(app, accessToken, payload)
    t.equal(response.statusCode, 400)
    t.equal(response.json().message, 'code is not accepted: no second factor is configured')
  }
  t.same(app.events, [], 'no attempt was counted or reported')
  t.equal((await reauth(app, accessToken, { password: PASSWORDS.alice })).statusCode, 200, 'not locked')
})

/** A second factor's verifier as the MFA feature registers one: codes of a list, each good once. */
function listVerifier (codes: Map<string, string>): CodeVerifier & { calls: string[] } {
  const calls: string[] = []
  return {
    calls,
    async verify (userId, code) {
      calls.push(userId)
      if (code === 'store-down') throw Object.assign(new Error('store down'), { statusCode: 503 })
      if (code === 'locked') throw Object.assign(new Error('locked'), { statusCode: 429 })
      if (codes.get(code) !== userId) throw Object.assign(new Error('Invalid code'), { statusCode: 401 })
      codes.delete(code)
      return ['otp']
    }
  }
}

t.test('a registered code verifier: { code } and { password, code }', async (t) => {
  const clock = fakeClock(t)
  const app = await reauthApp(t)
  const verifier = listVerifier(new Map([['111111', '1'], ['222222', '1'], ['333333', '2']]))
  reauthenticationVerifiers.get(app.jwtAuth)!.code = verifier
  const { accessToken } = await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd'] })
  clock.now += 600_000

  const byCode = await reauth(app, accessToken, { code: '111111' })
  t.equal(byCode.statusCode, 200)
  const codeClaims = claimsOf(byCode.json().access_token)
  t.match(codeClaims, { amr: ['otp'], auth_time: seconds(), roles: ['admin'] }, 'the user read afresh gives the roles')
  t.notOk('acr' in codeClaims, 'otp alone is no level here')
  t.equal((await get(app, '/otp', byCode.json().access_token)).statusCode, 200)

  const both = await reauth(app, byCode.json().access_token, { password: PASSWORDS.alice, code: '222222' })
  t.equal(both.statusCode, 200)
  t.match(claimsOf(both.json().access_token), { amr: ['pwd', 'otp'], acr: 'mfa' })

  const reused = await reauth(app, both.json().access_token, { code: '111111' })
  t.equal(reused.statusCode, 401, 'the verifier\'s own error')
  const other = await reauth(app, both.json().access_token, { code: '333333' })
  t.equal(other.statusCode, 401, 'a code of another user')
  t.equal((await reauth(app, both.json().access_token, { code: 'locked' })).statusCode, 429)
  t.equal((await reauth(app, both.json().access_token, { code: 'store-down' })).statusCode, 503)
  const wrongPassword = await reauth(app, both.json().access_token, { password: 'wrong-password', code: '333333' })
  t.equal(wrongPassword.statusCode, 401)
  t.same(verifier.calls, ['1', '1', '1', '1', '1', '1'], 'the password is checked first: no code work after a wrong one')
  t.same(app.events.filter((event) => event.type === 'reauthenticate.failure').map((event) => event.reason),
    ['wrong_code', 'wrong_code', 'locked', 'wrong_password'], 'a failing store is no failed attempt')
  t.notMatch(JSON.stringify(app.events), /111111|222222|333333/, 'no code in an event')
})

t.test('a user gone since the token was issued gets 401', async (t) => {
  // authenticate finds the user (the first lookup of each request); the reauthentication's own lookup does not.
  let lookups = 0
  const app = await reauthApp(t, {
    options: { userCacheTtl: 0 },
    findById: async (id) => (++lookups === 1 ? seeded.find((user) => String(user.id) === id) ?? null : null)
  })
  reauthenticationVerifiers.get(app.jwtAuth)!.code = listVerifier(new Map([['111111', '1']]))
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  for (const payload of [{ code: '111111' }, { password: PASSWORDS.alice }]) {
    lookups = 0
    const response = await reauth(app, accessToken, payload)
    t.equal(response.statusCode, 401, JSON.stringify(payload))
    t.equal(response.json().code, 'FST_JWT_AUTH_USER_NOT_FOUND')
  }
})

t.test('a revokeAll or a logout landing while the password is checked: 401, and the new pair never works', async (t) => {
  const users = seeded.map((user) => ({ ...user }))
  let armed: ((id: string) => Promise<void>) | undefined
  const app: App = await reauthApp(t, {
    users,
    options: { userCacheTtl: 0 },
    findById: async (id) => {
      const during = armed
      armed = undefined
      await during?.(id)
      return users.find((user) => String(user.id) === id) ?? null
    }
  })
  // The first lookup of the request is authenticate's, after its revocation check.
  const cases: Array<[string, (id: string, token: string) => Promise<void>]> = [
    ['revokeAll', async (id) => { await app.jwtAuth.revokeAll(id) }],
    ['logout', async (id, token) => { await app.jwtAuth.revoke(token) }]
  ]
  for (const [name, during] of cases) {
    const { accessToken } = await app.jwtAuth.issue({ id: 1 })
    armed = async (id) => { await during(id, accessToken) }
    const response = await reauth(app, accessToken, { password: PASSWORDS.alice })
    t.equal(response.statusCode, 401, name)
    t.equal(response.json().code, 'FST_JWT_AUTH_TOKEN_REVOKED')
    t.same(await app.jwtAuth.sessions(1), [], 'no session left in the index')
  }
})

t.test('sessions of earlier versions (no head in the index) or gone from it still reauthenticate', async (t) => {
  const app = await reauthApp(t)
  const store = app.jwtAuth.store as { sessions: { put: (...args: unknown[]) => Promise<void>, remove: (user: string, family: string) => Promise<void> } }
  const old = await app.jwtAuth.issue({ id: 1 })
  const fam = claimsOf(old.accessToken).fam as string
  await store.sessions.put('1', fam, JSON.stringify({ createdAt: Date.now(), lastRefreshedAt: Date.now(), expiresAt: Date.now() + 3_600_000 }), 3600)
  t.equal((await reauth(app, old.accessToken, { password: PASSWORDS.alice })).statusCode, 200)
  t.equal((await refresh(app, old.refreshToken)).statusCode, 200, 'its refresh token, unknown to the index, is not spent')

  // Its latest refresh token gone (expired, discarded): the new one is created beside nothing.
  const lost = await app.jwtAuth.issue({ id: 1 })
  const lostFam = claimsOf(lost.accessToken).fam as string
  await (app.jwtAuth.store as { refreshTokens: { discard: (family: string, jti: string) => Promise<void> } }).refreshTokens.discard(lostFam, claimsOf(lost.refreshToken).jti as string)
  const afterLoss = await reauth(app, lost.accessToken, { password: PASSWORDS.alice })
  t.equal(afterLoss.statusCode, 200)
  t.equal((await refresh(app, afterLoss.json().refresh_token)).statusCode, 200)

  // A record the plugin did not write (a store tampered with): replaced all the same.
  const tampered = await app.jwtAuth.issue({ id: 1 })
  const tamperedFam = claimsOf(tampered.accessToken).fam as string
  await (app.jwtAuth.store as { refreshTokens: { create: (...args: unknown[]) => Promise<void> } }).refreshTokens.create(tamperedFam, claimsOf(tampered.refreshToken).jti, 'not json', 3600)
  t.equal((await reauth(app, tampered.accessToken, { password: PASSWORDS.alice })).statusCode, 200)
  t.equal((await refresh(app, tampered.refreshToken)).json().code, 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED', 'spent all the same')

  const gone = await app.jwtAuth.issue({ id: 1 })
  await store.sessions.remove('1', claimsOf(gone.accessToken).fam as string)
  const response = await reauth(app, gone.accessToken, { password: PASSWORDS.alice })
  t.equal(response.statusCode, 200)
  t.ok((await app.jwtAuth.sessions(1)).some((session) => session.familyId === claimsOf(gone.accessToken).fam), 'back in the index')
})

t.test('hostile requests', async (t) => {
  const app = await reauthApp(t)
  const { accessToken, refreshToken } = await app.jwtAuth.issue({ id: 1 })

  t.test('no token, a refresh token, a revoked session: 401', async (t) => {
    t.equal((await app.inject({ method: 'POST', url: '/auth/reauthenticate', payload: { password: PASSWORDS.alice } })).statusCode, 401)
    t.equal((await reauth(app, refreshToken, { password: PASSWORDS.alice })).json().code, 'FST_JWT_AUTH_WRONG_TOKEN_TYPE')
    const ended = await app.jwtAuth.issue({ id: 1 })
    await app.jwtAuth.revoke(ended.refreshToken)
    t.equal((await reauth(app, ended.accessToken, { password: PASSWORDS.alice })).json().code, 'FST_JWT_AUTH_TOKEN_REVOKED')
  })

  t.test('bodies of the wrong shape: 400 before any password work', async (t) => {
    const before = app.events.length
    for (const payload of [{}, { password: '' }, { code: '' }, { code: 'x'.repeat(65) }, { password: 'x'.repeat(2000) }, { admin: true }]) {
      const response = await reauth(app, accessToken, payload)
      t.equal(response.statusCode, 400, JSON.stringify(payload).slice(0, 60))
    }
    t.equal(app.events.length, before, 'no attempt')
  })

  t.test('another user\'s password does not do', async (t) => {
    t.equal((await reauth(app, accessToken, { password: PASSWORDS.bob })).statusCode, 401)
  })
})

t.test('with cookies: the CSRF proof is needed, and the new pair replaces the cookies', async (t) => {
  const app = await reauthApp(t, { options: { cookies: { accessToken: true, secure: false } } })
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'alice', password: PASSWORDS.alice } })
  const jar = login.cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ')
  const csrf = login.json().csrf_token as string
  const noProof = await app.inject({ method: 'POST', url: '/auth/reauthenticate', headers: { cookie: jar }, payload: { password: PASSWORDS.alice } })
  t.equal(noProof.statusCode, 403)
  const response = await app.inject({ method: 'POST', url: '/auth/reauthenticate', headers: { cookie: jar, 'x-csrf-token': csrf }, payload: { password: PASSWORDS.alice } })
  t.equal(response.statusCode, 200)
  t.ok(response.json().csrf_token !== csrf, 'a new CSRF token')
  t.notOk('access_token' in response.json(), 'the access token is in its cookie')
  t.same(response.cookies.map((cookie) => cookie.name).sort(), login.cookies.map((cookie) => cookie.name).sort())
})

t.test('tokens of other issuers are refused: the route acts on the plugin\'s own sessions', async (t) => {
  const app = await reauthApp(t, { options: { legacy: { secret: 'legacy-secret-that-is-at-least-32-bytes!', algorithms: ['HS256'], until: new Date(Date.now() + 86_400_000) } } })
  const { createSigner } = await import('fast-jwt')
  const legacy = createSigner({ key: 'legacy-secret-that-is-at-least-32-bytes!' })({ sub: '1' })
  const response = await reauth(app, legacy, { password: PASSWORDS.alice })
  t.equal(response.statusCode, 401)
  t.equal(response.json().message, 'This route needs a token issued by this service')
})

t.test('the route option, the rate limit, and Swagger', async (t) => {
  const off = await reauthApp(t, { routes: { reauthenticate: false } })
  t.equal((await reauth(off, (await off.jwtAuth.issue({ id: 1 })).accessToken, { password: PASSWORDS.alice })).statusCode, 404)
  for (const [routes, users, message] of [
    [{ reauthenticate: 'yes' }, { findByLogin: async () => null, findById: async () => null }, /routes\.reauthenticate must be a boolean/],
    [{ reauthenticate: true }, { findByLogin: async () => null }, /routes\.reauthenticate needs users\.findById/]
  ] as const) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(jwtAuth, { secret: SECRET, routes, users } as never) }, { code: 'FST_JWT_AUTH_INVALID_OPTION', message })
    await app.close()
  }
  const withoutFindById = Fastify()
  await withoutFindById.register(jwtAuth, { secret: SECRET, routes: { captcha: false }, users: { findByLogin: async () => null } })
  await withoutFindById.ready()
  t.equal((await withoutFindById.inject({ method: 'POST', url: '/auth/reauthenticate', payload: {} })).statusCode, 404, 'off by default without findById')
  await withoutFindById.close()

  const limited = await reauthApp(t, { options: { rateLimit: { credentials: { max: 2, timeWindow: '1 minute' } } } })
  const { accessToken } = await limited.jwtAuth.issue({ id: 1 })
  const statuses = []
  for (let i = 0; i < 3; i++) statuses.push((await reauth(limited, accessToken, { password: 'wrong-password' })).statusCode)
  t.same(statuses, [401, 401, 429], 'the credentials class')

  const documented = Fastify()
  await documented.register(swagger, { openapi: { info: { title: 't', version: '1' } } })
  await documented.register(jwtAuth, { secret: SECRET, routes: { captcha: false }, users: { findById: async () => null, findByLogin: async () => null } })
  await documented.ready()
  const spec = documented.swagger() as { paths: Record<string, Record<string, { security?: unknown, requestBody?: unknown }>> }
  const operation = spec.paths['/auth/reauthenticate']!.post!
  t.same(operation.security, [{ bearerAuth: [] }])
  t.match(operation.requestBody, { content: { 'application/json': { schema: { properties: { password: { type: 'string' }, code: { type: 'string' } } } } } })
  await documented.close()
})

// Issue 20's rule (a token without a record is a reuse only when its family rotated past it) must hold after a
// reauthentication too: the new pair's generation goes on above the family's, so a rotation of it that a failover
// loses is unknown, not a theft that ends the session.
t.test('the new pair goes on above the family\'s generation: its lost rotation is unknown, not a reuse', async (t) => {
  const app = await reauthApp(t, { routes: { lockout: false } })
  let pair = await app.jwtAuth.issue({ id: 1 })
  for (let i = 0; i < 3; i++) pair = await app.jwtAuth.refresh(pair.refreshToken)
  t.equal(claimsOf(pair.refreshToken).gen, 3)
  const again = (await reauth(app, pair.accessToken, { password: PASSWORDS.alice })).json()
  t.ok((claimsOf(again.refresh_token).gen as number) > 3, 'past every generation the family had')
  const next = await app.jwtAuth.refresh(again.refresh_token)
  const { fam, jti } = claimsOf(next.refreshToken) as { fam: string, jti: string }
  await (app.jwtAuth.store as AuthStore).refreshTokens.discard(fam, jti)
  app.events.length = 0
  await t.rejects(app.jwtAuth.refresh(next.refreshToken), { code: 'FST_JWT_AUTH_REFRESH_TOKEN_UNKNOWN' })
  t.same(app.events.map((event) => event.type), ['refresh.unknown'], 'no refresh.reuse')
  t.equal((await get(app, '/auth/me', next.accessToken)).statusCode, 200, 'the session goes on')
})

t.test('a store without generation: the new pair starts again at 0, the spent token is still a reuse', async (t) => {
  const memory = memoryStore()
  const { generation, ...refreshTokens } = memory.refreshTokens
  t.type(generation, 'function')
  const store: AuthStore = { ...memory, refreshTokens, close: () => memory.close() }
  t.teardown(() => memory.close())
  const app = await reauthApp(t, { store, routes: { lockout: false } })
  const login = await app.jwtAuth.refresh((await app.jwtAuth.issue({ id: 1 })).refreshToken)
  const again = (await reauth(app, login.accessToken, { password: PASSWORDS.alice })).json()
  t.equal(claimsOf(again.refresh_token).gen, 0)
  t.equal((await refresh(app, login.refreshToken)).json().code, 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED')
})
