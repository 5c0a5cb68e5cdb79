import Fastify from 'fastify'
import t from 'tap'
import jwtAuth, { type AuthUser } from '../lib/index.js'
import { bearer, SECRET } from './helpers/app.js'

interface Record_ { id: number, roles?: unknown, permissions?: unknown }

async function build (t: { teardown: (fn: () => unknown) => void }, users: Record_[], options: Record<string, unknown> = {}) {
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET,
    permissions: { admin: ['*'], clerk: ['orders:*'], user: ['orders:read', 'profile:read'] },
    users: { findById: async (id: string) => (users.find((user) => String(user.id) === id) ?? null) as AuthUser | null },
    ...options
  })
  app.get('/orders', { onRequest: app.authorize({ permissions: ['orders:read'] }) }, async () => 'read')
  app.delete('/orders', { onRequest: app.authorize({ permissions: ['orders:delete'] }) }, async () => 'deleted')
  app.get('/both', { onRequest: app.authorize({ permissions: ['orders:read', 'profile:read'], all: true }) }, async () => 'both')
  app.get('/scoped', { onRequest: app.authorize({ scopes: ['reports', 'exports'] }) }, async () => 'scoped')
  app.get('/all-scopes', { onRequest: app.authorize({ scopes: ['reports', 'exports'], all: true }) }, async () => 'all')
  app.get('/role-and-scope', { onRequest: app.authorize({ roles: ['user'], scopes: ['reports'] }) }, async () => 'and')
  app.get('/predicate', {
    onRequest: app.authorize(async (user, request) => (user as { id: number }).id === Number((request.query as { owner?: string }).owner))
  }, async () => 'mine')
  await app.ready()
  t.teardown(() => app.close())
  return app
}

const USERS: Record_[] = [
  { id: 1, roles: ['admin'] },
  { id: 2, roles: ['clerk'] },
  { id: 3, roles: ['user'] },
  { id: 4, roles: [], permissions: ['orders:read'] },
  { id: 5, roles: 'admin' },
  { id: 6, roles: ['user'], permissions: 'orders:*' }
]

t.test('permissions: from the roles (with * and prefix wildcards) and from the user record', async (t) => {
  const app = await build(t, USERS)
  const status = async (userId: number, method: 'GET' | 'DELETE', url: string) =>
    (await app.inject({ method, url, headers: bearer((await app.jwtAuth.issue({ id: userId })).accessToken) })).statusCode
  t.same(await Promise.all([1, 2, 3, 4, 5, 6].map((id) => status(id, 'GET', '/orders'))), [200, 200, 200, 200, 403, 200])
  t.same(await Promise.all([1, 2, 3, 4, 5, 6].map((id) => status(id, 'DELETE', '/orders'))), [200, 200, 403, 403, 403, 403],
    'orders:* covers orders:delete; roles that are not a list and permissions that are not a list grant nothing')
  t.same(await Promise.all([1, 3, 4].map((id) => status(id, 'GET', '/both'))), [200, 200, 403], 'all: true needs every one')
})

t.test('403 insufficient_scope names what was required', async (t) => {
  const app = await build(t, USERS)
  const response = await app.inject({ method: 'DELETE', url: '/orders', headers: bearer((await app.jwtAuth.issue({ id: 3 })).accessToken) })
  t.equal(response.statusCode, 403)
  t.equal(response.json().code, 'FST_JWT_AUTH_FORBIDDEN', 'a missing permission is the user\'s, not the token\'s')
  t.match(response.headers['www-authenticate'], /error="insufficient_scope", scope="orders:delete"/)
  const unauthenticated = await app.inject({ method: 'DELETE', url: '/orders' })
  t.equal(unauthenticated.statusCode, 401, 'authorize authenticates first')
})

t.test('scopes: issue(user, { scope }) puts the scope claim; refresh keeps it; any-of, or all with all: true', async (t) => {
  const app = await build(t, USERS)
  const pair = await app.jwtAuth.issue({ id: 3 }, { scope: ['reports', 'reports'] })
  const claims = await app.jwtAuth.verify(pair.accessToken)
  t.equal(claims.scope, 'reports', 'space-separated, each once')
  t.equal((await app.inject({ url: '/scoped', headers: bearer(pair.accessToken) })).statusCode, 200)
  const all = await app.inject({ url: '/all-scopes', headers: bearer(pair.accessToken) })
  t.equal(all.statusCode, 403)
  t.same(all.json(), {
    statusCode: 403, code: 'FST_JWT_AUTH_INSUFFICIENT_SCOPE', error: 'Forbidden', message: 'The token does not grant a required scope'
  }, 'a missing scope is the token\'s')
  t.match(all.headers['www-authenticate'], /scope="reports exports"/)
  const refreshed = await app.jwtAuth.refresh(pair.refreshToken)
  t.equal((await app.jwtAuth.verify(refreshed.accessToken)).scope, 'reports', 'kept across a refresh')
  const wide = await app.jwtAuth.issue({ id: 3 }, { scope: 'reports exports' })
  t.equal((await app.inject({ url: '/all-scopes', headers: bearer(wide.accessToken) })).statusCode, 200)
  const none = await app.jwtAuth.issue({ id: 3 })
  t.equal((await app.inject({ url: '/scoped', headers: bearer(none.accessToken) })).statusCode, 403, 'no scope claim, no scope')
  t.equal((await app.inject({ url: '/role-and-scope', headers: bearer(pair.accessToken) })).statusCode, 200, 'role and scope')
  const roleMissing = await app.inject({ url: '/role-and-scope', headers: bearer((await app.jwtAuth.issue({ id: 2 }, { scope: 'reports' })).accessToken) })
  t.equal(roleMissing.statusCode, 403, 'every list given must be met')
  t.equal(roleMissing.json().code, 'FST_JWT_AUTH_FORBIDDEN', 'a missing role is the user\'s, whatever the scope')
  const bothMissing = await app.inject({ url: '/role-and-scope', headers: bearer((await app.jwtAuth.issue({ id: 2 })).accessToken) })
  t.equal(bothMissing.json().code, 'FST_JWT_AUTH_FORBIDDEN', 'a role and a scope missing: the user\'s first')
  for (const scope of ['', 'has"quote', ['a b'], [], 42]) {
    await t.rejects(app.jwtAuth.issue({ id: 3 }, { scope: scope as string }), /options.scope must be scope names/, JSON.stringify(scope))
  }
})

t.test('a predicate: sync or async, true passes, anything else is 403 without a scope attribute', async (t) => {
  const app = await build(t, USERS)
  const token = (await app.jwtAuth.issue({ id: 3 })).accessToken
  t.equal((await app.inject({ url: '/predicate?owner=3', headers: bearer(token) })).statusCode, 200)
  const refused = await app.inject({ url: '/predicate?owner=4', headers: bearer(token) })
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().code, 'FST_JWT_AUTH_FORBIDDEN')
  t.notMatch(refused.headers['www-authenticate'], /scope=/)
})

t.test('requirements and options are checked where they are written, naming what is wrong', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET })
  t.teardown(() => app.close())
  t.throws(() => app.authorize({ permission: ['a'] } as never), /unknown option authorize.permission \(did you mean authorize.permissions\?\)/)
  t.throws(() => app.authorize({}), /give roles, permissions, scopes, maxAge, amr or acr/)
  t.throws(() => app.authorize({ scopes: [] }), /authorize: scopes must be a non-empty array/)
  t.throws(() => app.authorize({ roles: ['a b'] }), /authorize: roles must be a non-empty array of names without spaces/)
  t.throws(() => app.authorize({ roles: ['a'], all: 'yes' } as never), /all must be a boolean/)
  for (const [permissions, message] of [
    [['admin'], /permissions must map roles to permission names/],
    [{ admin: '*' }, /permissions.admin must be an array of permission names/],
    [{ admin: ['has space'] }, /permissions.admin must be an array/]
  ] as const) {
    const other = Fastify()
    await t.rejects(async () => { await other.register(jwtAuth, { secret: SECRET, permissions: permissions as never }).ready() }, message)
    await other.close()
  }
})

t.test('without findById, the token\'s roles give the permissions', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, permissions: { user: ['orders:read'] } })
  app.get('/orders', { onRequest: app.authorize({ permissions: ['orders:read'] }) }, async () => 'read')
  t.teardown(() => app.close())
  const ok = await app.jwtAuth.issue({ id: 9, roles: ['user'] })
  const not = await app.jwtAuth.issue({ id: 9 })
  t.equal((await app.inject({ url: '/orders', headers: bearer(ok.accessToken) })).statusCode, 200)
  t.equal((await app.inject({ url: '/orders', headers: bearer(not.accessToken) })).statusCode, 403)
})
