// Type tests of authorize's overloads and the permissions and scope options (the published declarations).
import Fastify, { type FastifyRequest } from 'fastify'
import { expect, test } from 'tstyche'
import jwtAuth, { type AuthenticateHook, type AuthorizeRequirement, type AuthUser, type PermissionsOption } from 'fastify-jwt-auth'

const app = Fastify()

test('authorize: roles, a requirement, or a predicate', () => {
  expect(app.authorize('admin', 'editor')).type.toBe<AuthenticateHook>()
  expect(app.authorize({ roles: ['admin'], permissions: ['orders:read'], scopes: ['reports'], all: true })).type.toBe<AuthenticateHook>()
  expect(app.authorize({ scopes: ['reports'] })).type.toBe<AuthenticateHook>()
  expect(app.authorize((user, request) => {
    expect(user).type.toBe<AuthUser>()
    expect(request).type.toBe<FastifyRequest>()
    return true
  })).type.toBe<AuthenticateHook>()
  expect(app.authorize(async () => false)).type.toBe<AuthenticateHook>()
  expect(app.authorize).type.not.toBeCallableWith({ permission: ['a'] })
  expect(app.authorize).type.not.toBeCallableWith({ roles: 'admin' })
  expect(app.authorize).type.not.toBeCallableWith(() => 'yes')
  expect<AuthorizeRequirement>().type.toBeAssignableFrom({ permissions: ['a'] as const })
})

test('the permissions option and issue({ scope })', () => {
  const permissions: PermissionsOption = { admin: ['*'], clerk: ['orders:*'] }
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: 'x'.repeat(32), permissions })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 'x'.repeat(32), permissions: { admin: '*' } })
  expect(app.jwtAuth.issue).type.toBeCallableWith({ id: 1 }, { scope: 'reports exports' })
  expect(app.jwtAuth.issue).type.toBeCallableWith({ id: 1 }, { scope: ['reports'] })
  expect(app.jwtAuth.issue).type.not.toBeCallableWith({ id: 1 }, { scope: 42 })
})
