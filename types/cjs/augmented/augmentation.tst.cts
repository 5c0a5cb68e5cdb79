// A CommonJS consumer augments JwtAuthTypes as the README shows: the augmentation reaches the plugin's types
// through the `export =` namespace of main.d.cts.
import Fastify = require('fastify')
import jwtAuth = require('fastify-jwt-auth')
import { expect, test } from 'tstyche'

interface AppUser {
  id: number
  email: string
}

declare module 'fastify-jwt-auth' {
  interface JwtAuthTypes {
    user: AppUser
  }
}

test('an augmented user type flows to request.user and users.findById', () => {
  const app = Fastify()
  expect(app.register).type.toBeCallableWith(jwtAuth, {
    secret: 'x'.repeat(32),
    users: { findById: async (id: string) => ({ id: Number(id), email: 'a@b.c' }) }
  })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, {
    secret: 'x'.repeat(32),
    users: { findById: async (id: string) => ({ id }) }
  })
  expect<jwtAuth.AuthUser>().type.toBe<AppUser>()
  app.get('/me', { onRequest: app.authenticate }, async (request) => {
    expect(request.user).type.toBe<AppUser>()
    return request.user.email
  })
})
