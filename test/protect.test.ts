import Fastify from 'fastify'
import t from 'tap'
import jwtAuth from '../lib/index.js'
import { bearer, SECRET } from './helpers/app.js'

async function build (protectByDefault: unknown) {
  const findById: string[] = []
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET,
    protectByDefault: protectByDefault as boolean,
    routes: { captcha: false },
    users: {
      findById: async (id) => { findById.push(id); return { id, roles: [] } },
      findByLogin: async () => null
    },
    userCacheTtl: 0
  })
  app.get('/private', async (request) => ({ sub: request.auth?.claims.sub }))
  app.get('/health', { config: { public: true } }, async () => 'ok')
  app.get('/twice', { onRequest: app.authenticate }, async () => 'ok')
  app.get('/docs', async () => 'docs')
  app.get('/docs/*', async () => 'asset')
  app.get('/docsecret', async () => 'not docs')
  app.get('/static/*', async () => 'static')
  app.register(async (child) => {
    child.get('/nested', async () => 'nested')
  }, { prefix: '/child' })
  await app.ready()
  return { app, findById }
}

t.test('protectByDefault: every route needs a token unless marked public', async (t) => {
  const { app, findById } = await build({ publicPrefixes: ['/docs', '/static/'] })
  t.teardown(() => app.close())
  const { accessToken } = await app.jwtAuth.issue({ id: 'u1' })

  for (const url of ['/private', '/child/nested', '/docsecret', '/twice']) {
    const response = await app.inject({ url })
    t.equal(response.statusCode, 401, `${url} needs a token`)
    t.equal(response.headers['www-authenticate'], 'Bearer realm="api"')
    t.equal((await app.inject({ url, headers: bearer(accessToken) })).statusCode, 200, `${url} works with one`)
  }
  t.equal((await app.inject({ url: '/health' })).statusCode, 200, 'config.public routes are public')
  t.equal((await app.inject({ url: '/docs' })).statusCode, 200, 'a public prefix')
  t.equal((await app.inject({ url: '/docs/swagger.json' })).statusCode, 200, 'and below it')
  t.equal((await app.inject({ url: '/static/app.js' })).statusCode, 200, 'a prefix given with its trailing slash')
  t.equal((await app.inject({ url: '/docs/../private' })).statusCode, 401, 'a raw URL trick does not escape: the matched route decides')
  t.equal((await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'a', password: 'b' } })).statusCode, 401, 'the plugin login route is reachable (wrong password, not missing token)')
  t.equal((await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'a', password: 'b' } })).json().code, 'FST_JWT_AUTH_INVALID_CREDENTIALS')
  t.equal((await app.inject({ url: '/no-such-route' })).statusCode, 404, 'unknown URLs answer 404')

  findById.length = 0
  await app.inject({ url: '/twice', headers: bearer(accessToken) })
  t.same(findById, ['u1'], 'a route that also has authenticate is authenticated once')
})

t.test('protectByDefault: true, and off by default', async (t) => {
  const on = await build(true)
  t.teardown(() => on.app.close())
  t.equal((await on.app.inject({ url: '/docs' })).statusCode, 401)
  const off = await build(undefined)
  t.teardown(() => off.app.close())
  t.equal((await off.app.inject({ url: '/private' })).statusCode, 200)
})

t.test('protectByDefault options are validated', async (t) => {
  for (const [value, message] of [['yes', /protectByDefault must be true, false or/], [{ publicPrefixes: 'docs' }, /publicPrefixes must be an array of paths/], [{ publicPrefixes: ['docs'] }, /starting with \//]] as const) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(jwtAuth, { secret: SECRET, protectByDefault: value as never }) }, { message })
    await app.close()
  }
})
