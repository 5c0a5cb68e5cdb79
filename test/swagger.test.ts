import swagger from '@fastify/swagger'
import Fastify from 'fastify'
import t from 'tap'
import jwtAuth, { type JwtAuthOptions } from '../lib/index.js'
import { SECRET } from './helpers/app.js'

interface Operation { security?: unknown, summary?: string, requestBody?: { content: Record<string, unknown> } }
interface OpenApiDocument { components: { securitySchemes?: Record<string, unknown> }, paths: Record<string, Record<string, Operation>> }

async function build (options: Record<string, unknown> = {}, swaggerOptions: Record<string, unknown> = {}) {
  const app = Fastify()
  await app.register(swagger, { openapi: { info: { title: 'test', version: '1.0.0' } }, ...swaggerOptions })
  await app.register(jwtAuth, { secret: SECRET, routes: true, users: { findByLogin: async () => null, create: async () => ({ id: 1 }) }, ...options } as JwtAuthOptions)
  app.get('/public', async () => 'ok')
  app.get('/route-hook', { onRequest: app.authenticate }, async () => 'ok')
  app.get('/route-hook-array', { preHandler: [async () => {}, app.authorize('admin')] }, async () => 'ok')
  app.get('/own-security', { onRequest: app.authenticate, schema: { security: [] } as never }, async () => 'ok')
  app.register(async (api) => {
    api.addHook('onRequest', api.authenticate)
    api.get('/context-hook', async () => 'ok')
    api.register(async (inner) => { inner.get('/nested', async () => 'ok') })
  })
  app.register(async (api) => {
    api.get('/hook-added-after', async () => 'ok')
    api.addHook('preValidation', api.authorize('admin'))
  })
  await app.ready()
  return { app, doc: app.swagger() as unknown as OpenApiDocument }
}

const BEARER = [{ bearerAuth: [] }]

t.test('the document gets the bearer scheme and every authenticated route is marked', async (t) => {
  const { app, doc } = await build()
  t.teardown(() => app.close())
  t.same(doc.components.securitySchemes, { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } })
  const security = (path: string, method = 'get'): unknown => doc.paths[path]?.[method]?.security
  for (const path of ['/route-hook', '/context-hook', '/nested']) t.same(security(path), BEARER, path)
  // authorize('admin'): the role the route requires, under the scheme.
  for (const path of ['/route-hook-array', '/hook-added-after']) t.same(security(path), [{ bearerAuth: ['admin'] }], path)
  t.same(security('/auth/me'), BEARER)
  t.same(security('/auth/logout', 'post'), BEARER)
  for (const [path, method] of [['/public', 'get'], ['/auth/login', 'post'], ['/auth/refresh', 'post'], ['/auth/captcha', 'get'], ['/auth/register', 'post']]) {
    t.equal(security(path!, method), undefined, `${path} is public`)
  }
  t.same(security('/own-security'), [], 'a route with its own security keeps it')
  t.notOk(doc.paths['/auth/swagger-login'], 'no swagger-login unless asked for')
  t.ok(doc.paths['/auth/login']?.post?.summary, 'the auth routes are documented')
  t.ok(doc.paths['/auth/login']?.post?.requestBody?.content['application/json'], 'with their body schema')
})

t.test('swaggerLogin adds an OAuth2 password-flow scheme pointing at /swagger-login', async (t) => {
  const { app, doc } = await build({ routes: { swaggerLogin: true, prefix: '/session' } })
  t.teardown(() => app.close())
  t.same(doc.components.securitySchemes?.swaggerLogin, {
    type: 'oauth2',
    description: 'Username and password (development only)',
    flows: { password: { tokenUrl: '/session/swagger-login', scopes: {} } }
  })
  t.same(doc.paths['/route-hook']?.get?.security, [{ bearerAuth: [] }, { swaggerLogin: [] }])
  t.ok(doc.paths['/session/swagger-login']?.post?.requestBody?.content['application/x-www-form-urlencoded'])
})

t.test('protectByDefault routes are marked, public ones are not', async (t) => {
  const { app, doc } = await build({ protectByDefault: { publicPrefixes: ['/documentation'] } })
  t.teardown(() => app.close())
  t.same(doc.paths['/public']?.get?.security, BEARER)
  t.equal(doc.paths['/auth/login']?.post?.security, undefined)
})

t.test('existing security schemes of the app are kept, and YAML output has ours too', async (t) => {
  const { app, doc } = await build({}, { openapi: { info: { title: 't', version: '1' }, components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } } } })
  t.teardown(() => app.close())
  t.same(Object.keys(doc.components.securitySchemes ?? {}).sort(), ['apiKey', 'bearerAuth'])
  const yaml = app.swagger({ yaml: true }) as unknown as string
  t.match(yaml, /bearerAuth:\n\s+type: http\n\s+scheme: bearer/)
})

t.test('without @fastify/swagger nothing is added', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, routes: true, users: { findByLogin: async () => null } })
  const seen: unknown[] = []
  app.addHook('onRoute', (route) => { if (route.method === 'GET') seen.push(route.schema && (route.schema as { security?: unknown }).security) })
  app.get('/x', { onRequest: app.authenticate }, async () => 'ok')
  await app.ready()
  t.same(seen, [undefined])
  await app.close()
})

t.test('swagger 2.0 mode gets securityDefinitions', async (t) => {
  const app = Fastify()
  await app.register(swagger, { swagger: { info: { title: 't', version: '1' } } })
  await app.register(jwtAuth, { secret: SECRET, routes: { swaggerLogin: true }, users: { findByLogin: async () => null } })
  app.get('/private', { onRequest: app.authenticate }, async () => 'ok')
  await app.ready()
  const doc = app.swagger() as unknown as { securityDefinitions: Record<string, unknown>, paths: Record<string, Record<string, Operation>> }
  t.same(doc.securityDefinitions.bearerAuth, { type: 'apiKey', name: 'Authorization', in: 'header', description: 'Bearer <access token>' })
  t.match(doc.securityDefinitions.swaggerLogin, { type: 'oauth2', flow: 'password', tokenUrl: '/auth/swagger-login' })
  t.same(doc.paths['/private']?.get?.security, [{ bearerAuth: [] }, { swaggerLogin: [] }])
  await app.close()
})

t.test('the account routes are documented, the authenticated ones with the lock', async (t) => {
  const send = async () => {}
  const { app, doc } = await build({
    routes: { passwordReset: { send }, emailVerification: { send } },
    users: { findById: async () => null, findByLogin: async () => null, updatePasswordHash: async () => {}, markEmailVerified: async () => {} }
  })
  t.teardown(() => app.close())
  const operation = (path: string): Operation | undefined => doc.paths[path]?.post
  for (const path of ['/auth/password/change', '/auth/email/verify/request']) t.same(operation(path)?.security, BEARER, path)
  for (const path of ['/auth/password/forgot', '/auth/password/reset', '/auth/email/verify']) {
    t.equal(operation(path)?.security, undefined, `${path} is public`)
  }
  for (const path of ['/auth/password/forgot', '/auth/password/reset', '/auth/password/change', '/auth/email/verify']) {
    t.ok(operation(path)?.summary, `${path} has a summary`)
    t.ok(operation(path)?.requestBody?.content['application/json'], `${path} has its body schema`)
  }
  const responses = (path: string) => Object.keys((doc.paths[path]?.post as { responses: object }).responses)
  t.same(responses('/auth/password/forgot'), ['202', '400', '429', '503'])
  t.same(responses('/auth/password/reset'), ['204', '400', '429', '503'])
  t.same(responses('/auth/password/change'), ['200', '400', '401', '403', '429', '503'])
})

t.test('the security of a route lists what its authorize hooks require: roles, permissions, scopes', async (t) => {
  const app = Fastify()
  await app.register(swagger, { openapi: { info: { title: 'test', version: '1.0.0' } } })
  // The plugin's routes put the schemes into the document.
  await app.register(jwtAuth, { secret: SECRET, permissions: { admin: ['*'] }, routes: true, users: { findByLogin: async () => null } })
  app.get('/orders', { onRequest: app.authorize({ permissions: ['orders:read'], scopes: ['orders'] }) }, async () => 'ok')
  app.get('/by-predicate', { onRequest: app.authorize(() => true) }, async () => 'ok')
  app.register(async (api) => {
    api.addHook('onRequest', api.authorize({ roles: ['staff'] }))
    api.get('/staff', { preHandler: api.authorize({ scopes: ['reports'] }) }, async () => 'ok')
  })
  await app.ready()
  t.teardown(() => app.close())
  const doc = app.swagger() as unknown as OpenApiDocument
  t.same(doc.paths['/orders']?.get?.security, [{ bearerAuth: ['orders:read', 'orders'] }])
  t.same(doc.paths['/by-predicate']?.get?.security, BEARER, 'a predicate requires nothing it can name')
  t.same(doc.paths['/staff']?.get?.security, [{ bearerAuth: ['reports', 'staff'] }], 'route and context hooks together')
})

t.test('without the plugin\'s routes, the app declares the bearer scheme itself (README) and the document builds', async (t) => {
  const app = Fastify()
  await app.register(swagger, {
    openapi: {
      info: { title: 'test', version: '1.0.0' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } }
    }
  })
  await app.register(jwtAuth, { secret: SECRET })
  app.get('/orders', { onRequest: app.authorize({ scopes: ['orders'] }) }, async () => 'ok')
  await app.ready()
  t.teardown(() => app.close())
  const doc = app.swagger() as unknown as OpenApiDocument
  t.same(doc.paths['/orders']?.get?.security, [{ bearerAuth: ['orders'] }])
})
