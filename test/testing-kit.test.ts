// fastify-jwt-auth/testing as a consumer uses it: an app of theirs with protected routes, tested with inject and
// the kit's headers, users from fakeUsers, the default memory store: no database, no argon2, no Redis.
import { generateKeyPairSync } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import jwtAuth, { UsernameTakenError, type JwtAuthOptions } from '../lib/index.js'
import { authCookies, authHeaders, fakeUsers, type FakeUsers } from '../lib/testing.js'

const SECRET = 'a-test-secret-of-at-least-32-bytes!!'

interface ShopUser { id: number | string, username: string, roles: string[], disabled?: boolean }

type Teardown = { teardown: (fn: () => unknown) => void }

/** The consumer's app: orders for any user, deleting one for admins, a route that checks its own flag. */
async function shop (t: Teardown, users: FakeUsers<ShopUser>, options: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = Fastify()
  const signing = 'keys' in options ? {} : { secret: SECRET }
  await app.register(jwtAuth, { ...signing, issuer: 'shop', audience: 'shop-web', users, ...options } as JwtAuthOptions)
  app.get('/orders', { onRequest: app.authenticate }, async (request) => ({ owner: request.user.id }))
  app.delete('/orders/:id', { onRequest: app.authorize('admin') }, async () => ({ deleted: true }))
  app.post('/checkout', { onRequest: app.authenticate }, async (request) => {
    const user = request.user as unknown as ShopUser
    return user.disabled === true ? { refused: true } : { paid: true }
  })
  t.teardown(() => app.close())
  return app
}

const records = (): ShopUser[] => [
  { id: 1, username: 'alice', roles: ['admin'] },
  { id: 'bob-2', username: 'bob', roles: ['customer'] }
]

t.test('authHeaders: a protected route answers 200 with them, 401 without', async (t) => {
  const app = await shop(t, fakeUsers(records()))
  const alice = await authHeaders(app, { id: 1 })
  t.match(alice.authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/)
  const orders = await app.inject({ url: '/orders', headers: alice })
  t.equal(orders.statusCode, 200)
  t.same(orders.json(), { owner: 1 }, 'request.user is the record fakeUsers found for the token\'s sub')
  const bob = await app.inject({ url: '/orders', headers: await authHeaders(app, { id: 'bob-2' }) })
  t.same(bob.json(), { owner: 'bob-2' }, 'a string id too')
  const anonymous = await app.inject({ url: '/orders' })
  t.equal(anonymous.statusCode, 401)
  t.match(anonymous.headers['www-authenticate'], /^Bearer realm="shop"/)
  const unknown = await app.inject({ url: '/orders', headers: await authHeaders(app, { id: 99 }) })
  t.equal(unknown.statusCode, 401, 'a user fakeUsers does not know is refused, as by a real findById')
})

t.test('authorize by roles: the roles of the record fakeUsers finds', async (t) => {
  const app = await shop(t, fakeUsers(records()))
  const remove = { method: 'DELETE' as const, url: '/orders/7' }
  t.equal((await app.inject({ ...remove, headers: await authHeaders(app, { id: 1 }) })).statusCode, 200)
  const bob = await app.inject({ ...remove, headers: await authHeaders(app, { id: 'bob-2' }) })
  t.equal(bob.statusCode, 403)
  t.match(bob.headers['www-authenticate'], /error="insufficient_scope"/)
  // The record's roles decide, not the token's: bob's token claiming admin does not make him one.
  const claimed = await app.inject({ ...remove, headers: await authHeaders(app, { id: 'bob-2', roles: ['admin'] }) })
  t.equal(claimed.statusCode, 403)
})

t.test('authHeaders: the token carries what the app signs with, and issue\'s options', async (t) => {
  const app = await shop(t, fakeUsers(records()))
  const { authorization } = await authHeaders(app, { id: 1, roles: ['admin'] }, { claims: { tenant: 'acme' } })
  const claims = await app.jwtAuth.verify(authorization.slice('Bearer '.length))
  t.match(claims, { sub: '1', iss: 'shop', aud: 'shop-web', roles: ['admin'], tenant: 'acme' })
  t.same((await app.jwtAuth.sessions(1)).length, 1, 'a login session like any other')

  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const signed = await shop(t, fakeUsers(records()), { keys: [{ kid: 'k1', algorithm: 'ES256', privateKey }] })
  const headers = await authHeaders(signed, { id: 1 })
  t.equal((await signed.inject({ url: '/orders', headers })).statusCode, 200, 'an app with asymmetric keys')
  const header = JSON.parse(Buffer.from(headers.authorization.split(' ')[1]!.split('.')[0]!, 'base64url').toString())
  t.match(header, { alg: 'ES256', kid: 'k1' })
})

t.test('authHeaders and authCookies: a clear error without the plugin', async (t) => {
  const bare = Fastify()
  t.teardown(() => bare.close())
  const message = /authHeaders: the app has no jwtAuth decorator: register fastify-jwt-auth on it/
  await t.rejects(authHeaders(bare as unknown as FastifyInstance, { id: 1 }), { name: 'TypeError', message })
  await t.rejects(authHeaders(undefined as unknown as FastifyInstance, { id: 1 }), { message })
  // Registered without awaiting: the plugin has not run yet, so there is no decorator.
  const late = Fastify()
  t.teardown(() => late.close())
  late.register(jwtAuth, { secret: SECRET })
  await t.rejects(authCookies(late, { id: 1 }), /authCookies: the app has no jwtAuth decorator/)
  await late.ready()
  t.ok((await authHeaders(late, { id: 1 })).authorization, 'once ready, it has')
})

t.test('fakeUsers: the records are the table; lookups return copies', async (t) => {
  const table = records()
  const users = fakeUsers(table)
  const app = await shop(t, users)
  const alice = await authHeaders(app, { id: 1 })
  t.same(await users.findById('1'), table[0])
  t.not(await users.findById('1'), table[0], 'a copy')
  t.equal(await users.findById('2'), null)
  t.same(await users.findByLogin('bob'), table[1])
  t.equal(await users.findByLogin('Bob'), null, 'logins match exactly')

  const found = (await users.findById('1'))!
  found.roles.push('hacker')
  t.same(table[0]!.roles, ['admin'], 'changing what a lookup returned does not change the record')

  // Changing the record is an UPDATE: the next lookup sees it, once the user cache lets go (as after a real one).
  const checkout = { method: 'POST' as const, url: '/checkout', headers: alice }
  t.same((await app.inject(checkout)).json(), { paid: true })
  table[0]!.disabled = true
  table[0]!.roles = []
  t.same((await app.inject(checkout)).json(), { paid: true }, 'the user cache still holds alice as she was')
  await app.jwtAuth.invalidateUser(1)
  t.same((await app.inject(checkout)).json(), { refused: true }, 'after invalidateUser, the record as changed')
  t.equal((await app.inject({ method: 'DELETE', url: '/orders/1', headers: alice })).statusCode, 403, 'demoted')
  table.push({ id: 3, username: 'carol', roles: [] })
  t.equal(await users.findById('3'), null, 'the list was copied: a record pushed later is not in it')
})

t.test('fakeUsers: records are checked', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ['alice', /records must be an array/],
    [[null], /records\[0\] must be an object/],
    [[{ username: 'x' }], /records\[0\]\.id must be a non-empty string or a number/],
    [[{ id: '' }], /records\[0\]\.id must be/],
    [[{ id: 1 }, { id: 2, username: 5 }], /records\[1\]\.username must be a string/],
    [[{ id: 1, roles: 'admin' }], /records\[0\]\.roles must be an array of strings/],
    [[{ id: 1, roles: [1] }], /records\[0\]\.roles must be an array of strings/],
    [[{ id: 1 }, { id: '1' }], /two records have the id "1"/],
    [[{ id: 1, username: 'a' }, { id: 2, username: 'a' }], /two records have the username "a"/],
    [[{ id: 1, username: 'alice' }, { id: 2, username: 'Alic\u00E9' }], /the usernames "alice" and "Alicé" fold alike/],
    [[{ id: 1, greet: () => 'hi' }], /records\[0\] must be plain data, copied with structuredClone/]
  ]
  for (const [given, message] of cases) {
    t.throws(() => fakeUsers(given as ShopUser[]), { name: 'TypeError', message: new RegExp('^fakeUsers: ' + message.source) })
  }
  t.same(await fakeUsers([{ id: 'only' }]).findByLogin('only'), null, 'a record without username never logs in')
})

t.test('fakeUsers: create adds a record under a new id, and refuses a name that folds like one it has', async (t) => {
  const table = records()
  const users = fakeUsers<ShopUser>([...table, { id: 4, username: 'dave', roles: [] }])
  const carol = await users.create({ username: 'Carol', passwordHash: 'hash', roles: ['customer'] })
  t.same(carol, { username: 'Carol', passwordHash: 'hash', roles: ['customer'], id: 5 }, 'the next id no record has')
  t.same(await users.findById('5'), carol)
  t.same(await users.findByLogin('Carol'), carol)
  t.equal(await users.findByLogin('carol'), null, 'still found exactly')
  carol.roles.push('admin')
  t.same((await users.findById('5'))!.roles, ['customer'], 'create returned a copy')
  t.same(await users.create({ username: 'erin', passwordHash: 'hash' }), { username: 'erin', passwordHash: 'hash', id: 6 })
  for (const name of ['carol', 'ALICE', 'b\u00F6b', '\uFF44\uFF41\uFF56\uFF45', ' Erin ']) {
    const refused = users.create({ username: name, passwordHash: 'hash' })
    await t.rejects(refused, { code: 'FST_JWT_AUTH_USERNAME_TAKEN', statusCode: 409 }, JSON.stringify(name))
    await t.rejects(refused, UsernameTakenError)
  }
  t.equal(table.length, 2, 'the array given is left as it was')
  t.same(await fakeUsers([{ id: 7 }]).create({ username: 'frank', passwordHash: 'hash' }), { username: 'frank', passwordHash: 'hash', id: 2 }, 'a record without a username takes no name')
})

t.test('authCookies: the cookies and CSRF header of a browser session', async (t) => {
  const app = await shop(t, fakeUsers(records()), { cookies: { accessToken: true }, routes: { captcha: false }, rateLimit: false })
  const headers = await authCookies(app, { id: 1 })
  t.match(headers.cookie, /^__Host-access_token=[\w.-]+; __Host-refresh_token=[\w.-]+; __Host-csrf_token=[\w-]+$/)
  t.equal(headers.cookie.split('__Host-csrf_token=')[1], headers['x-csrf-token'])
  t.same((await app.inject({ url: '/orders', headers })).json(), { owner: 1 }, 'authenticated by the access cookie')
  t.equal((await app.inject({ method: 'DELETE', url: '/orders/1', headers })).statusCode, 200, 'a state change')
  const { cookie } = headers
  const forged = await app.inject({ method: 'DELETE', url: '/orders/1', headers: { cookie } })
  t.equal(forged.statusCode, 403, 'without the CSRF header, a state change is refused')
  t.equal(forged.json().code, 'FST_JWT_AUTH_CSRF')
  const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', headers })
  t.equal(refreshed.statusCode, 200, 'the refresh cookie works with the plugin\'s refresh route')
  t.ok(refreshed.cookies.some((set: { name: string }) => set.name === '__Host-refresh_token'), 'new cookies')
})

t.test('authCookies: the app\'s cookie names; a clear error without cookies', async (t) => {
  const app = await shop(t, fakeUsers(records()), { cookies: { secure: false } })
  const headers = await authCookies(app, { id: 'bob-2' }, { metadata: { userAgent: 'test' } })
  t.match(headers.cookie, /^refresh_token=[\w.-]+; csrf_token=[\w-]+$/, 'no access cookie: it travels in the header')
  t.equal((await app.jwtAuth.sessions('bob-2'))[0]!.userAgent, 'test', 'issue\'s options are passed on')
  const plain = await shop(t, fakeUsers(records()))
  await t.rejects(authCookies(plain, { id: 1 }), {
    name: 'TypeError',
    message: /authCookies: the app was registered without the cookies option: .* use authHeaders/
  })
})
