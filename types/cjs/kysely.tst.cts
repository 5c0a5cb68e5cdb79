// fastify-jwt-auth/kysely from CommonJS (module: node16, a .cts file): the declarations of dist/cjs.
import jwtAuth = require('fastify-jwt-auth')
import kysely = require('fastify-jwt-auth/kysely')
import { expect, test } from 'tstyche'

test('the adapter from require()', () => {
  expect(kysely.kyselyUsers).type.toBeCallableWith({} as Parameters<typeof kysely.kyselyUsers>[0])
  expect<jwtAuth.JwtAuthUsers>().type.toBeAssignableFrom({} as kysely.KyselyUsers)
  expect(kysely.sqliteDialect).type.toBeCallableWith(':memory:')
  expect(kysely.MIGRATIONS).type.toBe<readonly [
    'fastify-jwt-auth-0001-users', 'fastify-jwt-auth-0002-mfa', 'fastify-jwt-auth-0003-identities',
    'fastify-jwt-auth-0004-passkeys'
  ]>()
})
