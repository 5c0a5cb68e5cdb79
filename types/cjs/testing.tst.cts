// fastify-jwt-auth/testing from CommonJS (module: node16, a .cts file): the declarations of dist/cjs.
import Fastify = require('fastify')
import jwtAuth = require('fastify-jwt-auth')
import testing = require('fastify-jwt-auth/testing')
import { expect, test } from 'tstyche'

const app = Fastify()

test('the kit from require()', () => {
  const users = testing.fakeUsers([{ id: 1, roles: ['admin'] }])
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: 'x'.repeat(32), users })
  expect(testing.authHeaders(app, { id: 1 })).type.toBe<Promise<{ authorization: string }>>()
  expect(testing.authCookies(app, { id: 1 })).type.toBe<Promise<testing.AuthCookieHeaders>>()
  expect(testing.storeConformance).type.toBeCallableWith({ test: () => {}, createStore: () => jwtAuth.memoryStore() })
  expect(testing.checkStore).type.toBe<(store: unknown) => void>()
})
