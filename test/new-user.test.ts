// Findings of "Nothing silently wrong for a new user": mistakes that used to pass without a word.
import Fastify from 'fastify'
import t from 'tap'
import jwtAuth from '../lib/index.js'
import { bearer, decodePart, SECRET } from './helpers/app.js'

t.test('roles: a string is refused at issue; a roles field that is not a list grants nothing', async (t) => {
  let record: Record<string, unknown> = { id: 1, roles: ['admin'] }
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, users: { findById: async () => record }, userCacheTtl: 0 })
  app.get('/admin', { onRequest: app.authorize('admin') }, async () => 'ok')
  t.teardown(() => app.close())
  await t.rejects(app.jwtAuth.issue({ id: 1, roles: 'admin' as never }), { name: 'TypeError', message: 'issue: user.roles must be an array of strings' })
  await t.rejects(app.jwtAuth.issue({ id: 1, roles: [1] as never }), /user.roles must be an array of strings/)
  const { accessToken } = await app.jwtAuth.issue({ id: 1, roles: ['admin'] })
  t.same(decodePart(accessToken, 1).roles, ['admin'])
  t.equal((await app.inject({ url: '/admin', headers: bearer(accessToken) })).statusCode, 200)
  record = { id: 1, roles: 'admin' } // a bad column
  const refused = await app.inject({ url: '/admin', headers: bearer(accessToken) })
  t.equal(refused.statusCode, 403, 'not the token\'s older roles')
  record = { id: 1 } // no roles field at all: the token's roles stand
  t.equal((await app.inject({ url: '/admin', headers: bearer(accessToken) })).statusCode, 200)
})

t.test('csh is the plugin\'s: refused in issue, and a cookie refresh always needs the CSRF proof', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET,
    cookies: true,
    routes: { captcha: false },
    rateLimit: false,
    users: { findByLogin: async () => null }
  })
  t.teardown(() => app.close())
  await t.rejects(app.jwtAuth.issue({ id: 1 }, { claims: { csh: 'x' } }), /the csh claim is set by the plugin/)
  // A pair issued to a bearer client, its refresh token planted in the cookie: no binding, so no proof can match.
  const { refreshToken } = await app.jwtAuth.issue({ id: 1 })
  const cookies = { '__Host-refresh_token': refreshToken }
  const bare = await app.inject({ method: 'POST', url: '/auth/refresh', cookies })
  t.equal(bare.statusCode, 403)
  t.equal(bare.json().code, 'FST_JWT_AUTH_CSRF')
  const withHeader = await app.inject({ method: 'POST', url: '/auth/refresh', cookies, headers: { 'x-csrf-token': 'anything' } })
  t.equal(withHeader.statusCode, 403, 'a header cannot match a binding that is not there')
  const malformed = await app.inject({ method: 'POST', url: '/auth/refresh', cookies: { '__Host-refresh_token': 'not-a-token' } })
  t.equal(malformed.statusCode, 401, 'a cookie that is not a token is the token\'s 401')
})

t.test('register: only the declared profile fields reach users.create, whatever the validator does', async (t) => {
  const inputs: Array<Record<string, unknown>> = []
  const app = Fastify({ ajv: { customOptions: { removeAdditional: false } } }) // an app whose validator keeps extra fields
  await app.register(jwtAuth, {
    secret: SECRET,
    routes: { captcha: false, profile: { displayName: { type: 'string', maxLength: 20 } } },
    rateLimit: false,
    users: {
      findByLogin: async () => null,
      create: async (input) => { inputs.push(input); return { id: inputs.length } }
    }
  })
  t.teardown(() => app.close())
  const register = (payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/auth/register', payload })
  const refused = await register({ username: 'eve', password: 'long-enough-1', isAdmin: true })
  t.equal(refused.statusCode, 400, 'a field not declared is refused by the schema')
  t.equal((await register({ username: 'eve', password: 'long-enough-1', displayName: 'x'.repeat(21) })).statusCode, 400, 'the declared schema applies')
  t.equal((await register({ username: 'eve', password: 'long-enough-1', displayName: 'Eve' })).statusCode, 201)
  t.same(inputs.map((input) => Object.keys(input).sort()), [['displayName', 'passwordHash', 'username']])

  for (const [profile, message] of [
    ['none', /routes.profile must be JSON schema properties/],
    [{ roles: { type: 'array' } }, /routes.profile.roles: roles is not a profile field/],
    [{ nick: 'string' }, /routes.profile must be JSON schema properties/]
  ] as const) {
    const bad = Fastify()
    await t.rejects(async () => { await bad.register(jwtAuth, { secret: SECRET, routes: { profile: profile as never }, users: { findByLogin: async () => null } }) }, message)
  }
})

t.test('the README\'s CommonJS quick start protects its route (the built package, in a child process)', async (t) => {
  const { execFile } = await import('node:child_process')
  const { fileURLToPath } = await import('node:url')
  const env: NodeJS.ProcessEnv = { ...process.env, JWT_SECRET: 'a-secret-of-at-least-thirty-two-bytes!' }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  const program = `
const Fastify = require('fastify')
const jwtAuth = require('fastify-jwt-auth')

const app = Fastify()
app.register(jwtAuth, { secret: process.env.JWT_SECRET, issuer: 'my-api', audience: 'my-app' })
app.register(async (app) => {
  app.get('/me', { onRequest: app.authenticate }, async (request) => request.user)
  app.get('/admin', { onRequest: app.authorize('admin') }, async () => 'admins only')
})
app.ready().then(async () => {
  const anonymous = await app.inject({ url: '/me' })
  const { accessToken } = await app.jwtAuth.issue({ id: 1, roles: ['user'] })
  const me = await app.inject({ url: '/me', headers: { authorization: 'Bearer ' + accessToken } })
  const admin = await app.inject({ url: '/admin', headers: { authorization: 'Bearer ' + accessToken } })
  console.log(JSON.stringify([anonymous.statusCode, me.statusCode, admin.statusCode]))
  await app.close()
})`
  const output = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['-e', program], { cwd: fileURLToPath(new URL('..', import.meta.url)), env }, (error, stdout) => {
      if (error !== null) reject(error)
      else resolve(stdout)
    })
  })
  t.same(JSON.parse(output), [401, 200, 403], 'no token: 401; a token: 200; a missing role: 403')
})
