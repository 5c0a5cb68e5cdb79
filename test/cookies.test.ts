import cookie from '@fastify/cookie'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import jwtAuth, { type JwtAuthOptions } from '../lib/index.js'
import { bearer, decodePart, SECRET } from './helpers/app.js'
import { PASSWORDS, seedUsers } from './helpers/routes-app.js'

const users = await seedUsers()

async function cookieApp (cookies: unknown, before?: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> {
  const app = Fastify()
  await before?.(app)
  await app.register(jwtAuth, {
    secret: SECRET,
    cookies,
    routes: { captcha: false },
    rateLimit: false,
    users: {
      findById: async (id) => users.find((user) => String(user.id) === id) ?? null,
      findByLogin: async (login) => users.find((user) => user.username === login) ?? null
    }
  } as JwtAuthOptions)
  app.get('/orders', { onRequest: app.authenticate }, async () => ['order-1'])
  app.post('/transfer', { onRequest: app.authenticate }, async (request) => ({ done: true, by: request.auth?.claims.sub }))
  await app.ready()
  return app
}

type Jar = Record<string, string>
async function login (app: FastifyInstance): Promise<{ jar: Jar, body: Record<string, string>, cookies: Array<Record<string, unknown>> }> {
  const response = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'alice', password: PASSWORDS.alice } })
  const jar: Jar = {}
  for (const { name, value } of response.cookies as Array<{ name: string, value: string }>) jar[name] = value
  return { jar, body: response.json(), cookies: response.cookies as Array<Record<string, unknown>> }
}

t.test('cookies with the access token: HttpOnly, Secure, SameSite=Strict, __Host- names', async (t) => {
  const app = await cookieApp({ accessToken: true })
  t.teardown(() => app.close())
  const { jar, body, cookies } = await login(app)
  t.same(Object.keys(body).sort(), ['csrf_token', 'expires_in', 'token_type'], 'no token in the body')
  const byName = Object.fromEntries(cookies.map((c) => [c.name, c]))
  for (const name of ['__Host-access_token', '__Host-refresh_token', '__Host-csrf_token']) {
    t.match(byName[name], { path: '/', secure: true, sameSite: 'Strict' }, name)
    t.notOk(byName[name]!.domain, `${name} is host-only`)
  }
  t.equal(byName['__Host-access_token']!.httpOnly, true)
  t.equal(byName['__Host-refresh_token']!.httpOnly, true)
  t.notOk(byName['__Host-csrf_token']!.httpOnly, 'the CSRF token is readable by scripts')
  t.equal(byName['__Host-access_token']!.maxAge, 900)
  t.equal(byName['__Host-refresh_token']!.maxAge, 7 * 24 * 3600)
  t.equal(jar['__Host-csrf_token'], body.csrf_token)
  t.equal(decodePart(jar['__Host-refresh_token']!, 0).typ, 'rt+jwt')

  t.test('a safe request needs only the cookie', async (t) => {
    t.equal((await app.inject({ url: '/orders', cookies: jar })).statusCode, 200)
    t.equal((await app.inject({ url: '/auth/me', cookies: jar })).json().username, 'alice')
  })

  t.test('a state-changing request needs the CSRF token in X-CSRF-Token', async (t) => {
    const missing = await app.inject({ method: 'POST', url: '/transfer', cookies: jar })
    t.equal(missing.statusCode, 403)
    t.same(missing.json(), { statusCode: 403, code: 'FST_JWT_AUTH_CSRF', error: 'Forbidden', message: 'A valid CSRF token is required in the X-CSRF-Token header' })
    t.notOk(missing.headers['www-authenticate'])
    t.equal((await app.inject({ method: 'POST', url: '/transfer', cookies: jar, headers: { 'x-csrf-token': 'guess' } })).statusCode, 403)
    const other = await login(app)
    t.equal((await app.inject({ method: 'POST', url: '/transfer', cookies: jar, headers: { 'x-csrf-token': other.body.csrf_token! } })).statusCode, 403, 'another session\'s CSRF token does not fit')
    const ok = await app.inject({ method: 'POST', url: '/transfer', cookies: jar, headers: { 'x-csrf-token': jar['__Host-csrf_token']! } })
    t.equal(ok.statusCode, 200)
  })

  t.test('a cross-site form post fails', async (t) => {
    // What a browser sends for <form method=post action=https://api.example/transfer> on another site: the cookies (if SameSite allowed them), no custom header.
    const response = await app.inject({
      method: 'POST',
      url: '/transfer',
      cookies: jar,
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', referer: 'https://evil.example/page' },
      payload: 'amount=1000&to=mallory'
    })
    t.equal(response.statusCode, 403)
    t.equal(response.json().code, 'FST_JWT_AUTH_CSRF')
  })

  t.test('a token in both the header and the cookie is invalid_request', async (t) => {
    const response = await app.inject({ url: '/orders', cookies: jar, headers: bearer(jar['__Host-access_token']!) })
    t.equal(response.statusCode, 400)
    t.match(response.headers['www-authenticate'], /error="invalid_request"/)
  })

  t.test('refresh with the cookie: CSRF proof required, new cookies set', async (t) => {
    const session = await login(app)
    t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', cookies: session.jar })).statusCode, 403, 'no CSRF proof')
    const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', cookies: session.jar, headers: { 'x-csrf-token': session.body.csrf_token! } })
    t.equal(refreshed.statusCode, 200)
    const next: Jar = Object.fromEntries((refreshed.cookies as Array<{ name: string, value: string }>).map((c) => [c.name, c.value]))
    t.not(next['__Host-refresh_token'], session.jar['__Host-refresh_token'], 'rotated')
    t.equal(next['__Host-csrf_token'], session.body.csrf_token, 'the session keeps its CSRF token')
    t.equal(refreshed.json().csrf_token, session.body.csrf_token)
    t.equal((await app.inject({ method: 'POST', url: '/transfer', cookies: next, headers: { 'x-csrf-token': next['__Host-csrf_token']! } })).statusCode, 200, 'the rotated tokens keep the CSRF binding')
    const retried = await app.inject({ method: 'POST', url: '/auth/refresh', cookies: session.jar, headers: { 'x-csrf-token': session.body.csrf_token! } })
    t.equal(retried.cookies.find((c) => c.name === '__Host-refresh_token')?.value, next['__Host-refresh_token'], 'a retry within the grace gets the same cookie')
    const later = await app.inject({ method: 'POST', url: '/auth/refresh', cookies: next, headers: { 'x-csrf-token': next['__Host-csrf_token']! } })
    t.equal(later.statusCode, 200, 'the successor is used')
    const reused = await app.inject({ method: 'POST', url: '/auth/refresh', cookies: session.jar, headers: { 'x-csrf-token': session.body.csrf_token! } })
    t.equal(reused.json().code, 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED', 'reuse detection holds with cookies')
    const both = await app.inject({ method: 'POST', url: '/auth/refresh', cookies: next, payload: { refresh_token: next['__Host-refresh_token'] } })
    t.equal(both.statusCode, 400, 'a refresh token in body and cookie is refused')
    t.equal((await app.inject({ method: 'POST', url: '/auth/refresh' })).json().message, 'refresh_token is required')
  })

  t.test('two tabs refreshing at once with the same cookie get the same new cookies', async (t) => {
    const session = await login(app)
    const tab = () => app.inject({ method: 'POST', url: '/auth/refresh', cookies: session.jar, headers: { 'x-csrf-token': session.body.csrf_token! } })
    const [one, two] = await Promise.all([tab(), tab()])
    t.same([one.statusCode, two.statusCode], [200, 200])
    const refreshOf = (response: typeof one) => response.cookies.find((c) => c.name === '__Host-refresh_token')?.value
    t.ok(refreshOf(one))
    t.equal(refreshOf(one), refreshOf(two), 'one successor, handed to both')
    const next = { ...session.jar, '__Host-refresh_token': refreshOf(two)! }
    t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', cookies: next, headers: { 'x-csrf-token': session.body.csrf_token! } })).statusCode, 200, 'and it refreshes')
  })

  t.test('logout with the cookie: CSRF proof required, cookies cleared, tokens revoked', async (t) => {
    const session = await login(app)
    t.equal((await app.inject({ method: 'POST', url: '/auth/logout', cookies: session.jar })).statusCode, 403)
    const out = await app.inject({ method: 'POST', url: '/auth/logout', cookies: session.jar, headers: { 'x-csrf-token': session.body.csrf_token! } })
    t.equal(out.statusCode, 204)
    const cleared = out.cookies as Array<{ name: string, value: string, maxAge?: number, expires?: Date }>
    t.same(cleared.map((c) => c.name).sort(), ['__Host-access_token', '__Host-csrf_token', '__Host-refresh_token'])
    t.ok(cleared.every((c) => c.value === '' && (c.maxAge === 0 || (c.expires !== undefined && c.expires.getTime() < Date.now()))), 'expired, empty cookies')
    t.equal((await app.inject({ url: '/orders', cookies: session.jar })).statusCode, 401, 'the old access cookie is revoked')
  })
})

t.test('cookies for the refresh token only (the default): the access token stays in the body and the header', async (t) => {
  const app = await cookieApp(true)
  t.teardown(() => app.close())
  const { jar, body } = await login(app)
  t.same(Object.keys(jar).sort(), ['__Host-csrf_token', '__Host-refresh_token'])
  t.ok(body.access_token)
  t.notOk(body.refresh_token, 'the refresh token is never in the body with cookies on')
  t.equal((await app.inject({ method: 'POST', url: '/transfer', headers: bearer(body.access_token!) })).statusCode, 200, 'a header token needs no CSRF proof')
  t.equal((await app.inject({ url: '/orders', cookies: { '__Host-access_token': body.access_token! } })).statusCode, 401, 'an access cookie is not read unless asked for')
  const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', cookies: jar, headers: { 'x-csrf-token': body.csrf_token! } })
  t.ok(refreshed.json().access_token)
})

t.test('a refresh token sent in the body still works, answered in the body', async (t) => {
  const app = await cookieApp(true)
  t.teardown(() => app.close())
  const pair = await app.jwtAuth.issue({ id: 1 })
  const response = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: pair.refreshToken } })
  t.equal(response.statusCode, 200)
  t.ok(response.json().refresh_token)
  t.same(response.cookies, [], 'no cookies for a body client')
})

t.test('secure: false (local http): no __Host- prefix and no Secure flag; sameSite lax', async (t) => {
  const app = await cookieApp({ accessToken: true, secure: false, sameSite: 'lax' })
  t.teardown(() => app.close())
  const { cookies } = await login(app)
  t.same(cookies.map((c) => c.name).sort(), ['access_token', 'csrf_token', 'refresh_token'])
  t.ok(cookies.every((c) => c.secure !== true && c.sameSite === 'Lax'))
})

t.test('an app that registered @fastify/cookie itself keeps it', async (t) => {
  const app = await cookieApp({ accessToken: true }, async (app) => { await app.register(cookie, { secret: 'cookie-signing-secret' }) })
  t.teardown(() => app.close())
  const { jar } = await login(app)
  t.equal((await app.inject({ url: '/orders', cookies: jar })).statusCode, 200)
})

t.test('a tampered or oversized access cookie is refused with 4xx', async (t) => {
  const app = await cookieApp({ accessToken: true })
  t.teardown(() => app.close())
  const { jar } = await login(app)
  t.equal((await app.inject({ url: '/orders', cookies: { ...jar, '__Host-access_token': jar['__Host-access_token']!.slice(0, -3) + 'AAA' } })).statusCode, 401)
  t.equal((await app.inject({ url: '/orders', cookies: { ...jar, '__Host-access_token': 'x'.repeat(9000) } })).statusCode, 400)
  t.equal((await app.inject({ url: '/orders', cookies: { '__Host-access_token': jar['__Host-refresh_token']! } })).json().code, 'FST_JWT_AUTH_WRONG_TOKEN_TYPE')
  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', cookies: { '__Host-refresh_token': 'garbage' }, headers: { 'x-csrf-token': 'x' } })).statusCode, 401)
})

t.test('with access cookies on, a request without the cookie (or with it empty) uses the Authorization header', async (t) => {
  const app = await cookieApp({ accessToken: true })
  t.teardown(() => app.close())
  const pair = await app.jwtAuth.issue({ id: 1 })
  t.equal((await app.inject({ url: '/orders', headers: { authorization: `Bearer ${pair.accessToken}` } })).statusCode, 200, 'no cookie')
  t.equal((await app.inject({ url: '/orders', cookies: { '__Host-access_token': '' }, headers: { authorization: `Bearer ${pair.accessToken}` } })).statusCode, 200, 'an empty cookie')
  t.equal((await app.inject({ url: '/orders', headers: { authorization: 'Bearer a%b' } })).statusCode, 400, 'a header token still gets the syntax check')
})

t.test('cookie options are validated', async (t) => {
  for (const [value, message] of [['yes', /cookies must be true, false or/], [{ accessToken: 'yes' }, /cookies.accessToken must be a boolean/], [{ secure: 1 }, /cookies.secure must be a boolean/], [{ sameSite: 'none' }, /cookies.sameSite must be 'strict' or 'lax' \(got none\)/]] as const) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(jwtAuth, { secret: SECRET, cookies: value as never }) }, { code: 'FST_JWT_AUTH_INVALID_OPTION', message })
    await app.close()
  }
})
