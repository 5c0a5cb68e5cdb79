const assert = require('node:assert/strict')
const { test } = require('node:test')
const { authHeaders, fakeUsers } = require('fastify-jwt-auth/testing')
const { build } = require('./app.cjs')

process.env.JWT_SECRET ??= 'a-test-secret-of-at-least-thirty-two-bytes'

const alice = { id: 1, username: 'alice', roles: ['admin'] }
const bob = { id: 2, username: 'bob', roles: ['user'] }

async function setup (t) {
  const app = build({ users: fakeUsers([alice, bob]) })
  t.after(() => app.close())
  await app.ready() // app.jwtAuth exists once the plugin has loaded
  return app
}

test('no token: 401 with a Bearer challenge', async (t) => {
  const app = await setup(t)
  const response = await app.inject({ url: '/me' })
  assert.equal(response.statusCode, 401)
  assert.match(response.headers['www-authenticate'], /^Bearer realm="my-api"/)
  assert.equal((await app.inject({ url: '/' })).statusCode, 200, 'the public route')
})

test('a token from authHeaders: 200, and request.user is the user findById returned', async (t) => {
  const app = await setup(t)
  const response = await app.inject({ url: '/me', headers: await authHeaders(app, bob) })
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), bob)
})

test('authorize(\'admin\'): 403 without the role, 200 with it', async (t) => {
  const app = await setup(t)
  const refused = await app.inject({ url: '/admin', headers: await authHeaders(app, bob) })
  assert.equal(refused.statusCode, 403)
  assert.match(refused.headers['www-authenticate'], /^Bearer .*error="insufficient_scope"/)
  const admitted = await app.inject({ url: '/admin', headers: await authHeaders(app, alice) })
  assert.equal(admitted.statusCode, 200)
  assert.equal(admitted.body, 'admins only')
})
