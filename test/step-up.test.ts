// Step-up (RFC 9470): authorize({ maxAge, amr, acr }) answers 401 insufficient_user_authentication, with the
// challenge saying what would do, unless the session authenticated recently enough, that way, at that level.
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import jwtAuth, { bearerChallenge, type AcrLevel, type JwtAuthOptions } from '../lib/index.js'
import { ACCESS_HEADER, accessClaims, AUDIENCE, bearer, craftToken, decodePart, ISSUER, REFRESH_HEADER, SECRET, USERS } from './helpers/app.js'
import { fakeClock } from './helpers/clock.js'
import { API, IDP, issuerKey, jwksServer, mint } from './helpers/issuer.js'

const ACR: AcrLevel[] = [{ value: 'phr', amr: ['hwk'] }, { value: 'mfa', amr: ['pwd', 'otp'] }, { value: 'pwd', amr: ['pwd'] }]
const REALM = 'Bearer realm="test-api", error="insufficient_user_authentication"'
const RECENT = `${REALM}, error_description="More recent authentication is required", max_age="300"`
const seconds = (): number => Math.floor(Date.now() / 1000)

/** An app with a route per requirement; `options` on top of the test defaults. */
async function stepUpApp (t: Test, options: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET,
    issuer: ISSUER,
    audience: AUDIENCE,
    users: { findById: async (id: string) => USERS.find((user) => String(user.id) === id) ?? null },
    acr: ACR,
    ...options
  } as JwtAuthOptions)
  const ok = async () => ({ ok: true })
  app.get('/recent', { onRequest: app.authorize({ maxAge: '5m' }) }, ok)
  app.get('/otp', { onRequest: app.authorize({ amr: ['otp'] }) }, ok)
  app.get('/any-factor', { onRequest: app.authorize({ amr: ['otp', 'hwk'] }) }, ok)
  app.get('/both', { onRequest: app.authorize({ amr: ['pwd', 'otp'], all: true }) }, ok)
  app.get('/mfa', { onRequest: app.authorize({ acr: 'mfa' }) }, ok)
  app.get('/mfa-recent', { onRequest: app.authorize({ acr: ['mfa', 'phr'], maxAge: 300 }) }, ok)
  app.get('/admin-recent', { onRequest: [app.authenticate, app.authorize({ roles: ['admin'], maxAge: '5m' })] }, ok)
  app.get('/scoped-mfa', { onRequest: app.authorize({ scopes: ['payments'], acr: 'mfa' }) }, ok)
  app.get('/admin', { onRequest: app.authorize('admin') }, ok)
  await app.ready()
  t.teardown(() => app.close())
  return app
}

const get = async (app: FastifyInstance, url: string, token: string) => await app.inject({ url, headers: bearer(token) })

t.test('maxAge: a recent login passes; past it, 401 with the RFC 9470 challenge', async (t) => {
  // On a whole second, as auth_time counts.
  const clock = fakeClock(t, Math.floor(Date.now() / 1000) * 1000)
  const app = await stepUpApp(t)
  const { accessToken } = await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd'] })
  t.equal((await get(app, '/recent', accessToken)).statusCode, 200)

  clock.now += 300_000
  t.equal((await get(app, '/recent', accessToken)).statusCode, 200, 'exactly max_age ago still passes')
  clock.now += 1_000
  const response = await get(app, '/recent', accessToken)
  t.equal(response.statusCode, 401)
  t.equal(response.headers['www-authenticate'], RECENT)
  t.same(response.json(), {
    statusCode: 401,
    code: 'FST_JWT_AUTH_INSUFFICIENT_USER_AUTHENTICATION',
    error: 'Unauthorized',
    message: 'More recent authentication is required'
  })
})

t.test('a refresh never freshens auth_time: its tokens stay too old', async (t) => {
  const clock = fakeClock(t)
  const app = await stepUpApp(t)
  const login = await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd'] })
  clock.now += 301_000
  const refreshed = await app.jwtAuth.refresh(login.refreshToken)
  t.equal(decodePart(refreshed.accessToken, 1).iat, seconds(), 'a new token')
  const response = await get(app, '/recent', refreshed.accessToken)
  t.equal(response.statusCode, 401)
  t.equal(response.headers['www-authenticate'], RECENT)
  // Again and again: the successor of the successor is no younger.
  const again = await app.jwtAuth.refresh(refreshed.refreshToken)
  t.equal((await get(app, '/recent', again.accessToken)).statusCode, 401)
})

t.test('claims put in a refresh token, even signed with the key, never reach its successor', async (t) => {
  const clock = fakeClock(t)
  const app = await stepUpApp(t)
  const login = await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd'] })
  const authTime = decodePart(login.accessToken, 1).auth_time
  clock.now += 600_000
  const claims = decodePart(login.refreshToken, 1)
  // The server's own key: what only an insider could do. The session's record decides, not the token.
  const forged = craftToken(REFRESH_HEADER, { ...claims, auth_time: seconds(), amr: ['pwd', 'otp'], acr: 'phr' })
  const pair = await app.jwtAuth.refresh(forged)
  t.match(decodePart(pair.accessToken, 1), { auth_time: authTime, amr: ['pwd'], acr: 'pwd' })
  t.equal((await get(app, '/recent', pair.accessToken)).statusCode, 401)
  t.equal((await get(app, '/otp', pair.accessToken)).statusCode, 401)
  // Changed without the key: not a refresh token at all.
  const [header, , signature] = login.refreshToken.split('.')
  const body = Buffer.from(JSON.stringify({ ...claims, auth_time: seconds() })).toString('base64url')
  await t.rejects(app.jwtAuth.refresh(`${header!}.${body}.${signature!}`), { code: 'FST_JWT_AUTH_INVALID_TOKEN' })
})

t.test('amr: any of the methods, or all of them with all', async (t) => {
  const app = await stepUpApp(t)
  const pwd = (await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd'] })).accessToken
  const otp = (await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd', 'otp'] })).accessToken
  const key = (await app.jwtAuth.issue({ id: 1 }, { amr: ['hwk'] })).accessToken
  const none = (await app.jwtAuth.issue({ id: 1 })).accessToken

  const refused = await get(app, '/otp', pwd)
  t.equal(refused.statusCode, 401)
  t.equal(refused.headers['www-authenticate'], `${REALM}, error_description="Authentication with otp is required"`)
  t.equal((await get(app, '/otp', none)).statusCode, 401, 'no amr at all')
  t.equal((await get(app, '/otp', otp)).statusCode, 200)
  t.equal((await get(app, '/any-factor', key)).statusCode, 200)
  t.equal((await get(app, '/any-factor', pwd)).headers['www-authenticate'], `${REALM}, error_description="Authentication with otp or hwk is required"`)
  t.equal((await get(app, '/both', otp)).statusCode, 200)
  t.equal((await get(app, '/both', key)).headers['www-authenticate'], `${REALM}, error_description="Authentication with pwd and otp is required"`)
})

t.test('acr: the level, or a stronger one of the acr option; the challenge names acr_values', async (t) => {
  const app = await stepUpApp(t)
  const pwd = (await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd'] })).accessToken
  const mfa = (await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd', 'otp'] })).accessToken
  const phr = (await app.jwtAuth.issue({ id: 1 }, { amr: ['hwk'] })).accessToken
  const none = (await app.jwtAuth.issue({ id: 1 }, { amr: ['otp'] })).accessToken

  const refused = await get(app, '/mfa', pwd)
  t.equal(refused.statusCode, 401)
  t.equal(refused.headers['www-authenticate'], `${REALM}, error_description="A different authentication level is required", acr_values="mfa"`)
  t.equal((await get(app, '/mfa', none)).statusCode, 401, 'a session of no level')
  t.equal((await get(app, '/mfa', mfa)).statusCode, 200)
  t.equal((await get(app, '/mfa', phr)).statusCode, 200, 'phr is listed before mfa: stronger')

  const both = await get(app, '/mfa-recent', pwd)
  t.equal(both.headers['www-authenticate'],
    `${REALM}, error_description="A different authentication level is required", max_age="300", acr_values="mfa phr"`,
    'every parameter of the requirement, the level failing first')
  t.equal((await get(app, '/mfa-recent', mfa)).statusCode, 200)
})

t.test('combined with roles and scopes: a missing role or scope is the 403 first, then the step-up 401', async (t) => {
  const clock = fakeClock(t)
  const app = await stepUpApp(t)
  const bob = (await app.jwtAuth.issue({ id: 2 }, { amr: ['pwd'] })).accessToken
  const alice = (await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd'] })).accessToken
  const alicePays = (await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd'], scope: 'payments' })).accessToken
  const alicePaysMfa = (await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd', 'otp'], scope: 'payments' })).accessToken
  t.equal((await get(app, '/admin-recent', alice)).statusCode, 200)
  t.equal((await get(app, '/admin-recent', bob)).statusCode, 403)
  clock.now += 600_000
  t.equal((await get(app, '/admin-recent', bob)).statusCode, 403, 'a new login would not make bob an admin')
  const stale = await get(app, '/admin-recent', alice)
  t.equal(stale.statusCode, 401)
  t.equal(stale.headers['www-authenticate'], RECENT)

  t.equal((await get(app, '/scoped-mfa', alice)).json().code, 'FST_JWT_AUTH_INSUFFICIENT_SCOPE')
  t.equal((await get(app, '/scoped-mfa', alicePays)).json().code, 'FST_JWT_AUTH_INSUFFICIENT_USER_AUTHENTICATION')
  t.equal((await get(app, '/scoped-mfa', alicePaysMfa)).statusCode, 200)
})

t.test('hostile and missing claims fail closed', async (t) => {
  const app = await stepUpApp(t)
  const fresh = (await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd'] })).accessToken

  t.test('forged claims: an unsigned change to auth_time, amr or acr is an invalid token', async (t) => {
    const [header, , signature] = fresh.split('.')
    const claims = decodePart(fresh, 1)
    for (const change of [{ auth_time: seconds() + 3600 }, { amr: ['pwd', 'otp'] }, { acr: 'phr' }]) {
      const body = Buffer.from(JSON.stringify({ ...claims, ...change })).toString('base64url')
      const forged = `${header!}.${body}.${signature!}`
      for (const url of ['/recent', '/otp', '/mfa']) {
        const response = await get(app, url, forged)
        t.equal(response.statusCode, 401, `${url} ${JSON.stringify(change)}`)
        t.equal(response.json().code, 'FST_JWT_AUTH_INVALID_TOKEN')
      }
    }
    const unsigned = craftToken({ alg: 'none', typ: 'at+jwt' }, accessClaims({ jti: randomUUID(), auth_time: seconds(), amr: ['otp'], acr: 'phr' }), { signature: '' })
    t.equal((await get(app, '/mfa', unsigned)).json().code, 'FST_JWT_AUTH_INVALID_TOKEN')
  })

  t.test('missing claims (a token of an earlier version): every step-up fails, plain routes pass', async (t) => {
    const old = craftToken(ACCESS_HEADER, accessClaims({ jti: randomUUID() }))
    for (const url of ['/recent', '/otp', '/mfa']) t.equal((await get(app, url, old)).statusCode, 401, url)
    t.equal((await get(app, '/admin', old)).statusCode, 200)
  })

  t.test('claims of the wrong type or time, even signed, never pass', async (t) => {
    const signed = (claims: Record<string, unknown>) => craftToken(ACCESS_HEADER, accessClaims({ jti: randomUUID(), ...claims }))
    const cases: Array<[string, Record<string, unknown>]> = [
      ['/recent', { auth_time: String(seconds()) }],
      ['/recent', { auth_time: seconds() + 3600 }], // in the future: recent until then
      ['/recent', { auth_time: null }],
      ['/otp', { amr: 'otp' }],
      ['/otp', { amr: { 0: 'otp' } }],
      ['/mfa', { acr: ['mfa'] }],
      ['/mfa', { acr: 'mfa phr' }]
    ]
    for (const [url, claims] of cases) {
      const response = await get(app, url, signed(claims))
      t.equal(response.statusCode, 401, `${url} ${JSON.stringify(claims)}`)
      t.equal(response.json().code, 'FST_JWT_AUTH_INSUFFICIENT_USER_AUTHENTICATION')
    }
  })
})

t.test('clockTolerance: an auth_time a little past max_age, or a little ahead, passes', async (t) => {
  const clock = fakeClock(t)
  const app = await stepUpApp(t, { clockTolerance: 30 })
  const ahead = craftToken(ACCESS_HEADER, accessClaims({ jti: randomUUID(), auth_time: seconds() + 20 }))
  t.equal((await get(app, '/recent', ahead)).statusCode, 200)
  const { accessToken } = await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd'] })
  clock.now += 325_000
  t.equal((await get(app, '/recent', accessToken)).statusCode, 200)
  clock.now += 10_000
  t.equal((await get(app, '/recent', accessToken)).statusCode, 401)
})

t.test('a step-up requirement alone still authenticates; the challenge survives an error handler', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, issuer: ISSUER })
  app.setErrorHandler(async (error, request, reply) => reply.code((error as { statusCode?: number }).statusCode ?? 500).send({ mine: true }))
  app.get('/recent', { onRequest: app.authorize({ maxAge: '5m' }) }, async () => 'ok')
  await app.ready()
  t.teardown(() => app.close())
  const none = await app.inject({ url: '/recent' })
  t.equal(none.statusCode, 401)
  t.equal(none.headers['www-authenticate'], 'Bearer realm="test-api"')
  const old = craftToken(ACCESS_HEADER, { ...accessClaims({ jti: randomUUID(), auth_time: seconds() - 3600 }), aud: undefined })
  const stale = await app.inject({ url: '/recent', headers: bearer(old) })
  t.equal(stale.statusCode, 401)
  t.same(stale.json(), { mine: true })
  t.equal(stale.headers['www-authenticate'], RECENT)
})

t.test('trusted issuers: their tokens are judged by their own auth_time, amr and acr', async (t) => {
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const app = await stepUpApp(t, {
    trustedIssuers: [{ issuer: IDP, jwksUri: jwks.url, audience: API, algorithms: ['RS256'] }]
  })
  app.log.level = 'silent'
  const idp = async (claims: Record<string, unknown>) => await mint({ key, claims })
  t.equal((await get(app, '/recent', await idp({ auth_time: seconds() - 60 }))).statusCode, 200)
  const stale = await get(app, '/recent', await idp({ auth_time: seconds() - 3600 }))
  t.equal(stale.statusCode, 401)
  t.equal(stale.headers['www-authenticate'], RECENT)
  t.equal((await get(app, '/recent', await idp({}))).statusCode, 401, 'no auth_time: never recent')
  t.equal((await get(app, '/otp', await idp({ amr: ['pwd', 'otp'] }))).statusCode, 200)
  t.equal((await get(app, '/otp', await idp({ amr: ['pwd'] }))).statusCode, 401)
  t.equal((await get(app, '/mfa', await idp({ acr: 'mfa' }))).statusCode, 200, 'its own value, named by the route')
  t.equal((await get(app, '/mfa', await idp({ acr: 'phr' }))).statusCode, 401, 'the app\'s ranking is not the issuer\'s')
  t.equal((await get(app, '/mfa', await idp({ amr: ['pwd', 'otp'] }))).statusCode, 401, 'nor is its mapping from amr')
})

t.test('requirements are checked where the route is declared', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, acr: ACR })
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ maxAge: '5 mins' }, /authorize: maxAge must be/],
    [{ maxAge: 0 }, /authorize: maxAge must be/],
    [{ maxAge: -5 }, /authorize: maxAge must be/],
    [{ maxAge: '1500ms' }, /authorize: maxAge must be a whole number of seconds/],
    [{ amr: [] }, /authorize: amr must be a non-empty array of RFC 8176 method names/],
    [{ amr: 'otp' }, /authorize: amr must be/],
    [{ amr: ['two words'] }, /authorize: amr must be/],
    [{ acr: [] }, /authorize: acr must be a level or a non-empty array of them/],
    [{ acr: 'm"fa' }, /authorize: acr must be/],
    [{ acr: 'gold' }, /authorize: acr gold is not a level of the acr option \(phr, mfa, pwd\)/],
    [{ maxage: '5m' }, /unknown option authorize\.maxage \(did you mean authorize\.maxAge\?\)/],
    [{}, /authorize: give roles, permissions, scopes, maxAge, amr or acr/]
  ]
  for (const [requirement, message] of cases) t.throws(() => app.authorize(requirement as never), { message }, JSON.stringify(requirement))
  await app.close()

  const noLevels = Fastify()
  await noLevels.register(jwtAuth, { secret: SECRET })
  t.throws(() => noLevels.authorize({ acr: 'mfa' }), /acr mfa is not a level of the acr option \(none is given\)/)
  await noLevels.close()

  // Another issuer's tokens carry values of their own: any level name goes.
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const withIdp = Fastify()
  await withIdp.register(jwtAuth, { secret: SECRET, trustedIssuers: [{ issuer: IDP, jwksUri: jwks.url, audience: API, algorithms: ['RS256'] }] })
  t.doesNotThrow(() => withIdp.authorize({ acr: ['urn:idp:loa:2', 'gold'] }))
  await withIdp.close()
})

t.test('bearerChallenge puts max_age only as whole seconds', async (t) => {
  const error = { code: 'FST_JWT_AUTH_INSUFFICIENT_USER_AUTHENTICATION', message: 'More recent authentication is required' }
  t.equal(bearerChallenge('api', { ...error, maxAge: 60 }), 'Bearer realm="api", error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="60"')
  for (const maxAge of [1.5, -1, Number.NaN, '60" x="y' as unknown as number]) {
    t.equal(bearerChallenge('api', { ...error, maxAge }), 'Bearer realm="api", error="insufficient_user_authentication", error_description="More recent authentication is required"')
  }
  t.equal(bearerChallenge('api', { ...error, acrValues: 'mfa "x"' }), 'Bearer realm="api", error="insufficient_user_authentication", error_description="More recent authentication is required", acr_values="mfa x"')
  t.equal(bearerChallenge('api', { code: 'FST_JWT_AUTH_INVALID_TOKEN', message: 'bad', maxAge: 5, acrValues: 'mfa' }), 'Bearer realm="api", error="invalid_token", error_description="bad"', 'only a step-up challenge carries them')
})
