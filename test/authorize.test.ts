import Fastify from 'fastify'
import t from 'tap'
import jwtAuth from '../lib/index.js'
import { bearer, appOnStore, buildApp, SECRET, STORE_FACTORIES } from './helpers/app.js'

for (const { name, create } of STORE_FACTORIES) {
  t.test(`authorize (${name} store)`, async (t) => {
    const app = await appOnStore(t, create)
    const admin = await app.jwtAuth.issue({ id: 1 })
    const user = await app.jwtAuth.issue({ id: 2 })
    const noRoles = await app.jwtAuth.issue({ id: 3 })

    t.test('a user holding the role passes', async (t) => {
      const response = await app.inject({ url: '/admin', headers: bearer(admin.accessToken) })
      t.equal(response.statusCode, 200)
      t.equal(response.json().admin.username, 'alice')
    })

    t.test('a user without the role: 403 FST_JWT_AUTH_FORBIDDEN, insufficient_scope on the wire naming the roles', async (t) => {
      for (const token of [user.accessToken, noRoles.accessToken]) {
        const response = await app.inject({ url: '/admin', headers: bearer(token) })
        t.equal(response.statusCode, 403)
        t.equal(response.headers['www-authenticate'], 'Bearer realm="test-api", error="insufficient_scope", scope="admin"')
        t.same(response.json(), { statusCode: 403, code: 'FST_JWT_AUTH_FORBIDDEN', error: 'Forbidden', message: 'The user does not meet a required role, permission or condition' })
      }
    })

    t.test('any one of several roles is enough', async (t) => {
      t.equal((await app.inject({ method: 'POST', url: '/editor', headers: bearer(admin.accessToken) })).statusCode, 200)
      const response = await app.inject({ method: 'POST', url: '/editor', headers: bearer(user.accessToken) })
      t.equal(response.statusCode, 403)
      t.equal(response.headers['www-authenticate'], 'Bearer realm="test-api", error="insufficient_scope", scope="editor admin"')
    })

    t.test('authorize alone still authenticates first', async (t) => {
      const response = await app.inject({ url: '/admin' })
      t.equal(response.statusCode, 401)
      t.equal(response.headers['www-authenticate'], 'Bearer realm="test-api"')
      t.equal((await app.inject({ url: '/admin', headers: { authorization: 'Bearer a b' } })).statusCode, 400)
    })

    t.test('the user record decides, not the roles in the token', async (t) => {
      // user 2 is 'user' in the database; a token claiming admin does not help
      const elevated = await app.jwtAuth.issue({ id: 2, roles: ['admin'] })
      t.equal((await app.inject({ url: '/admin', headers: bearer(elevated.accessToken) })).statusCode, 403)
    })
  })
}

t.test('without findById the token roles claim decides', async (t) => {
  const app = await buildApp(undefined, { findById: false })
  t.teardown(() => app.close())
  const withRole = await app.jwtAuth.issue({ id: 'a', roles: ['admin'] })
  const without = await app.jwtAuth.issue({ id: 'b' })
  t.equal((await app.inject({ url: '/admin', headers: bearer(withRole.accessToken) })).statusCode, 200)
  t.equal((await app.inject({ url: '/admin', headers: bearer(without.accessToken) })).statusCode, 403)
})

t.test('a user record without roles falls back to the token roles claim', async (t) => {
  const app = await buildApp(undefined, { users: [{ id: 1, username: 'x' } as never] })
  t.teardown(() => app.close())
  const token = await app.jwtAuth.issue({ id: 1, roles: ['admin'] })
  t.equal((await app.inject({ url: '/admin', headers: bearer(token.accessToken) })).statusCode, 200)
})

t.test('authorize refuses bad role lists at route definition', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET })
  t.throws(() => app.authorize(), /give one or more roles/)
  t.throws(() => app.authorize('has space'), /without spaces/)
  t.throws(() => app.authorize('quo"te'), /without spaces, quotes/)
  t.throws(() => app.authorize(42 as unknown as string), /one or more roles/)
  await app.close()
})
