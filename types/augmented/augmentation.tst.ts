// request.user is typed by augmenting JwtAuthTypes, as the README shows.
import Fastify from 'fastify'
import { expect, test } from 'tstyche'
import jwtAuth from 'fastify-jwt-auth'

interface AppUser {
  id: number
  email: string
  roles: string[]
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
    users: { findById: async (id: string) => ({ id: Number(id), email: 'a@b.c', roles: [] }) }
  })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, {
    secret: 'x'.repeat(32),
    users: { findById: async (id: string) => ({ id }) }
  })
  app.get('/me', { onRequest: app.authenticate }, async (request) => {
    expect(request.user).type.toBe<AppUser>()
    expect(request.user.email).type.toBe<string>()
    return request.user.email
  })
})
