// "A new user's first hour", points 2 and 6: a route declared before the plugin loaded (a forgotten `await`) never
// serves openly, a hook option that is undefined fails startup, and a second registration says what happened.
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import t from 'tap'
import jwtAuth from '../lib/index.js'
import { bearer, SECRET } from './helpers/app.js'

const root = fileURLToPath(new URL('..', import.meta.url))

t.test('ESM and CommonJS apps that register without await: the route answers 500, never 200, and says why', async (t) => {
  // As a user writes them, run against the built package (fastify-jwt-auth resolves to this repository).
  const dir = mkdtempSync(join(tmpdir(), 'jwt-auth-await-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(join(root, 'node_modules', 'fastify'), join(dir, 'node_modules', 'fastify'), 'dir')
  symlinkSync(root, join(dir, 'node_modules', 'fastify-jwt-auth'), 'dir')
  const body = (load: string) => `${load}
const app = Fastify()
app.register(jwtAuth, { secret: '${SECRET}' })
app.get('/me', { onRequest: app.authenticate }, async (request) => ({ user: request.user }))
app.get('/health', { config: { public: true } }, async () => 'ok')
app.ready().then(async () => {
  const me = await app.inject('/me')
  const again = await app.inject('/me')
  const health = await app.inject('/health')
  console.log(JSON.stringify({ me: [me.statusCode, me.json().code], again: again.statusCode, health: health.statusCode }))
  await app.close()
})
`
  writeFileSync(join(dir, 'app.mjs'), body("import Fastify from 'fastify'\nimport jwtAuth from 'fastify-jwt-auth'"))
  writeFileSync(join(dir, 'app.cjs'), body("const Fastify = require('fastify')\nconst jwtAuth = require('fastify-jwt-auth')"))
  for (const file of ['app.mjs', 'app.cjs']) {
    const { stdout, stderr } = await new Promise<{ stdout: string, stderr: string }>((resolve, reject) => {
      execFile(process.execPath, [file], { cwd: dir, env: { PATH: process.env.PATH } }, (error, stdout, stderr) => {
        if (error !== null) reject(Object.assign(error, { stderr })); else resolve({ stdout, stderr })
      })
    })
    t.same(JSON.parse(stdout), { me: [500, 'FST_JWT_AUTH_EARLY_ROUTE'], again: 500, health: 200 }, file, { stderr })
  }
})

t.test('in process: the early route fails closed, every time, naming the route and the fix in the answer and the log', async (t) => {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { lines.push(line) } } } })
  app.register(jwtAuth, { secret: SECRET })
  app.get('/admin', { onRequest: app.authorize?.('admin') }, async () => 'admins only')
  app.get('/public', { config: { public: true } }, async () => 'public')
  await app.ready()
  t.teardown(() => app.close())
  const { accessToken } = await app.jwtAuth.issue({ id: 1, roles: ['user'] })
  for (const headers of [{}, bearer(accessToken), {}]) {
    const response = await app.inject({ url: '/admin', headers })
    t.equal(response.statusCode, 500)
    t.equal(response.json().code, 'FST_JWT_AUTH_EARLY_ROUTE')
    t.match(response.json().message, /the route GET \/admin was declared on the app before fastify-jwt-auth loaded/)
    t.match(response.json().message, /await app\.register\(jwtAuth, \.\.\.\)/)
  }
  t.equal(lines.filter((line) => line.includes('the route GET /admin was declared on the app before')).length, 3,
    'each one logged with the route and the fix (by Fastify, as every 500)')
  t.equal((await app.inject('/public')).statusCode, 200, 'marked public: served')
  t.equal((await app.inject('/nowhere')).statusCode, 404, 'a 404 stays a 404')
})

t.test('routes declared once the plugin has loaded are not touched, in the root or in plugins', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET })
  app.get('/me', { onRequest: app.authenticate }, async (request) => ({ user: request.user }))
  app.get('/open', async () => 'open')
  await app.register(async (child) => { child.get('/child', async () => 'child') }, { prefix: '/p' })
  await app.ready()
  t.teardown(() => app.close())
  t.equal((await app.inject('/me')).statusCode, 401)
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 200)
  t.equal((await app.inject('/open')).statusCode, 200)
  t.equal((await app.inject('/p/child')).statusCode, 200)
})

t.test('a request hook option present but undefined fails startup, naming the route, the hook and the fix', async (t) => {
  for (const hook of ['onRequest', 'preParsing', 'preValidation', 'preHandler'] as const) {
    const app = Fastify()
    await app.register(jwtAuth, { secret: SECRET })
    const typo = (app as unknown as Record<string, undefined>).authenticat
    t.throws(() => app.post('/orders', { [hook]: typo }, async () => 'ok'), {
      code: 'FST_JWT_AUTH_UNDEFINED_HOOK',
      message: new RegExp(`the route POST /orders has ${hook}: undefined, which Fastify ignores, leaving the route open: ` +
        'declare the route once the plugin has loaded')
    }, hook)
    await app.close()
  }
  // In a plugin registered after jwtAuth too: startup fails.
  const app = Fastify()
  app.register(jwtAuth, { secret: SECRET })
  app.register(async (child) => { child.get('/x', { preHandler: undefined }, async () => 'x') })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_JWT_AUTH_UNDEFINED_HOOK', message: /the route GET \/x has preHandler: undefined/ })
})

t.test('registering the plugin twice says so (not a guess about @fastify/jwt)', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET })
  t.teardown(() => app.close())
  const expected = {
    code: 'FST_JWT_AUTH_INVALID_OPTION',
    message: 'fastify-jwt-auth: fastify-jwt-auth is already registered on this instance or a parent of it: register it ' +
      'once, on the root (it is not encapsulated), and use its decorators everywhere'
  }
  await t.rejects(async () => { await app.register(jwtAuth, { secret: SECRET }) }, expected, 'same instance')
  await t.rejects(async () => {
    await app.register(async (child) => { await child.register(jwtAuth, { secret: SECRET }) })
  }, expected, 'a child of it')
})
