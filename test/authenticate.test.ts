import Fastify from 'fastify'
import t from 'tap'
import jwtAuth from '../lib/index.js'
import { ACCESS_HEADER, accessClaims, bearer, appOnStore, buildApp, craftToken, SECRET, STORE_FACTORIES, type TestUser } from './helpers/app.js'
import { fakeClock } from './helpers/clock.js'

const REALM = 'test-api' // the issuer, the default realm

for (const { name, create } of STORE_FACTORIES) {
  t.test(`authenticate (${name} store)`, async (t) => {
    const app = await appOnStore(t, create)
    const pair = await app.jwtAuth.issue({ id: 1, roles: ['admin'] })

    t.test('a valid access token authenticates and sets request.user and request.auth', async (t) => {
      const response = await app.inject({ url: '/me', headers: bearer(pair.accessToken) })
      t.equal(response.statusCode, 200)
      const body = response.json()
      t.same(body.user, { id: 1, username: 'alice', roles: ['admin'] })
      t.equal(body.claims.sub, '1')
      t.equal(body.claims.iss, 'test-api')
      t.equal(body.claims.aud, 'test-app')
      t.notOk(response.headers['www-authenticate'])
    })

    t.test('the scheme is case-insensitive and extra spaces before the token are allowed', async (t) => {
      for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
        const response = await app.inject({ url: '/me', headers: { authorization: `${scheme}   ${pair.accessToken}` } })
        t.equal(response.statusCode, 200, scheme)
      }
    })

    t.test('no Authorization header: 401 with a bare challenge', async (t) => {
      const response = await app.inject({ url: '/me' })
      t.equal(response.statusCode, 401)
      t.equal(response.headers['www-authenticate'], `Bearer realm="${REALM}"`)
      t.same(response.json(), {
        statusCode: 401,
        code: 'FST_JWT_AUTH_NO_TOKEN',
        error: 'Unauthorized',
        message: 'Authorization header with a bearer token is required'
      })
    })

    t.test('another scheme is no bearer credentials: 401 bare challenge', async (t) => {
      for (const authorization of ['Basic YWxpY2U6cGFzcw==', 'Digest x', 'Bearerish abc', 'JWT abc']) {
        const response = await app.inject({ url: '/me', headers: { authorization } })
        t.equal(response.statusCode, 401, authorization)
        t.equal(response.headers['www-authenticate'], `Bearer realm="${REALM}"`)
      }
    })

    t.test('malformed bearer headers: 400 invalid_request', async (t) => {
      const malformed = [
        'Bearer',
        'Bearer ',
        `Bearer ${pair.accessToken} ${pair.accessToken}`,
        `Bearer ${pair.accessToken},Bearer ${pair.accessToken}`,
        `Bearer "${pair.accessToken}"`,
        'Bearer a\tb',
        'Bearer ab==c',
        'Bearer é',
        `Bearer ${'a'.repeat(8193)}`
      ]
      for (const authorization of malformed) {
        const response = await app.inject({ url: '/me', headers: { authorization } })
        t.equal(response.statusCode, 400, authorization.slice(0, 40))
        t.match(response.headers['www-authenticate'], /^Bearer realm="test-api", error="invalid_request", error_description="[^"]+"$/)
        t.equal(response.json().code, 'FST_JWT_AUTH_INVALID_REQUEST')
      }
    })

    t.test('two Authorization headers: 400 invalid_request', async (t) => {
      const response = await app.inject({
        url: '/me',
        headers: { authorization: [`Bearer ${pair.accessToken}`, `Bearer ${pair.accessToken}`] as unknown as string }
      })
      t.equal(response.statusCode, 400)
      t.match(response.headers['www-authenticate'], /error="invalid_request"/)
    })

    t.test('a refresh token never authenticates a request', async (t) => {
      const response = await app.inject({ url: '/me', headers: bearer(pair.refreshToken) })
      t.equal(response.statusCode, 401)
      t.equal(response.json().code, 'FST_JWT_AUTH_WRONG_TOKEN_TYPE')
      t.equal(response.headers['www-authenticate'], `Bearer realm="${REALM}", error="invalid_token", error_description="An access token is required"`)
    })

    t.test('a token of a user findById no longer finds: 401 invalid_token', async (t) => {
      const ghost = await app.jwtAuth.issue({ id: 99 })
      const response = await app.inject({ url: '/me', headers: bearer(ghost.accessToken) })
      t.equal(response.statusCode, 401)
      t.equal(response.json().code, 'FST_JWT_AUTH_USER_NOT_FOUND')
      t.match(response.headers['www-authenticate'], /error="invalid_token"/)
    })

    t.test('routes without the hook stay public', async (t) => {
      t.equal((await app.inject({ url: '/public' })).statusCode, 200)
    })
  })
}

t.test('without users.findById, request.user is the claims', async (t) => {
  const app = await buildApp(undefined, { findById: false })
  t.teardown(() => app.close())
  const { accessToken } = await app.jwtAuth.issue({ id: 'u-7', roles: ['admin'] }, { claims: { tenant: 'acme' } })
  const response = await app.inject({ url: '/me', headers: bearer(accessToken) })
  t.equal(response.statusCode, 200)
  const { user, claims } = response.json()
  t.same(user, claims)
  t.equal(user.sub, 'u-7')
  t.equal(user.tenant, 'acme')
  t.same(user.roles, ['admin'])
})

t.test('user cache: findById once per ttl, invalidateUser and revokeAll drop the entry', async (t) => {
  const users: TestUser[] = [{ id: 1, username: 'alice', roles: ['admin'] }]
  const app = await buildApp(undefined, { users, options: { userCacheTtl: '1h' } })
  t.teardown(() => app.close())
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  for (let i = 0; i < 3; i++) await app.inject({ url: '/me', headers: bearer(accessToken) })
  t.same(app.findByIdCalls, ['1'], 'loaded once, then served from the cache')

  users[0] = { id: 1, username: 'alice2', roles: ['admin'] }
  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).json().user.username, 'alice', 'stale until invalidated')
  app.jwtAuth.invalidateUser(1)
  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).json().user.username, 'alice2', 'reloaded after invalidateUser')
  t.equal(app.findByIdCalls.length, 2)

  users.length = 0
  app.jwtAuth.invalidateUser('1')
  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 401, 'a deleted user is refused once invalidated')
})

t.test('user cache: expires after userCacheTtl, is bounded by userCacheMax, and 0 turns it off', async (t) => {
  const clock = fakeClock(t)

  const cached = await buildApp(undefined, { options: { userCacheTtl: '10s', userCacheMax: 2 } })
  t.teardown(() => cached.close())
  const tokens = await Promise.all([1, 2, 3].map(async (id) => (await cached.jwtAuth.issue({ id })).accessToken))
  const call = async (token: string): Promise<number> => (await cached.inject({ url: '/me', headers: bearer(token) })).statusCode
  await call(tokens[0]!)
  await call(tokens[0]!)
  t.same(cached.findByIdCalls, ['1'])
  clock.now += 11_000
  await call(tokens[0]!)
  t.same(cached.findByIdCalls, ['1', '1'], 'reloaded after the ttl')
  await call(tokens[1]!)
  await call(tokens[2]!) // evicts user 1, the oldest
  await call(tokens[0]!)
  t.same(cached.findByIdCalls, ['1', '1', '2', '3', '1'], 'the oldest entry is evicted past userCacheMax')

  const uncached = await buildApp(undefined, { options: { userCacheTtl: 0 } })
  t.teardown(() => uncached.close())
  const { accessToken } = await uncached.jwtAuth.issue({ id: 2 })
  await uncached.inject({ url: '/me', headers: bearer(accessToken) })
  await uncached.inject({ url: '/me', headers: bearer(accessToken) })
  t.same(uncached.findByIdCalls, ['2', '2'], 'every request loads the user')
})

t.test('errors of the app\'s own findById pass through untouched', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, users: { findById: async () => { throw Object.assign(new Error('db down'), { statusCode: 502 }) } } })
  app.get('/me', { onRequest: app.authenticate }, async () => 'never')
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  const response = await app.inject({ url: '/me', headers: bearer(accessToken) })
  t.equal(response.statusCode, 502)
  t.notOk(response.headers['www-authenticate'])
  await app.close()
})

t.test('authenticate works as onRequest and as preHandler, in encapsulated contexts', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET })
  await app.register(async (child) => {
    child.addHook('preHandler', child.authenticate)
    child.get('/inner', async (request) => ({ sub: request.auth?.claims.sub }))
  })
  const { accessToken } = await app.jwtAuth.issue({ id: 5 })
  t.equal((await app.inject({ url: '/inner', headers: bearer(accessToken) })).json().sub, '5')
  t.equal((await app.inject({ url: '/inner' })).statusCode, 401)
  await app.close()
})

t.test('a custom realm and an app error handler keep the challenge', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, realm: 'example' })
  app.setErrorHandler((error: { statusCode?: number, code?: string }, request, reply) => {
    reply.status(error.statusCode ?? 500).send({ custom: true, code: error.code })
  })
  app.get('/me', { onRequest: app.authenticate }, async () => 'never')
  const response = await app.inject({ url: '/me' })
  t.equal(response.statusCode, 401)
  t.equal(response.headers['www-authenticate'], 'Bearer realm="example"')
  t.same(response.json(), { custom: true, code: 'FST_JWT_AUTH_NO_TOKEN' })
  await app.close()
})

t.test('request.user and request.auth are null before authenticate runs', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, realm: 'example' })
  app.get('/', async (request) => ({ user: request.user, auth: request.auth }))
  t.same((await app.inject({ url: '/' })).json(), { user: null, auth: null })
  await app.close()
})

t.test('the challenge carries a crafted token\'s error description, quoted safely', async (t) => {
  const app = await buildApp(undefined)
  t.teardown(() => app.close())
  const response = await app.inject({ url: '/me', headers: bearer(craftToken(ACCESS_HEADER, accessClaims(), { secret: 'another-secret-of-32-bytes-or-more!!' })) })
  t.equal(response.headers['www-authenticate'], 'Bearer realm="test-api", error="invalid_token", error_description="The token signature is invalid"')
})

t.test('invalidateUser is harmless with the user cache off', async (t) => {
  const app = await buildApp(undefined, { options: { userCacheTtl: 0 } })
  t.teardown(() => app.close())
  app.jwtAuth.invalidateUser(1)
  await app.jwtAuth.revokeAll(1)
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 200)
})

t.test('the API refuses a token that is not a string with a 401', async (t) => {
  const app = await buildApp(undefined)
  t.teardown(() => app.close())
  for (const token of [undefined, null, 42, {}, ['a.b.c'], Buffer.from('a.b.c')]) {
    await t.rejects(app.jwtAuth.verify(token as unknown as string), { code: 'FST_JWT_AUTH_INVALID_TOKEN', statusCode: 401, message: 'The token must be a string' })
    await t.rejects(app.jwtAuth.refresh(token as unknown as string), { code: 'FST_JWT_AUTH_INVALID_TOKEN' })
    await t.rejects(app.jwtAuth.revoke(token as unknown as string), { code: 'FST_JWT_AUTH_INVALID_TOKEN' })
  }
})

t.test('verifyCacheMax: 0 verifies the signature on every request', async (t) => {
  const app = await buildApp(undefined, { options: { verifyCacheMax: 0 } })
  t.teardown(() => app.close())
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken.slice(0, -2) + 'AA') })).statusCode, 401)
  await app.jwtAuth.revoke(accessToken)
  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 401)
})
