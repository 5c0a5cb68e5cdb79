// Type tests of the authentication claims (amr, auth_time, acr), the acr option, issue's amr and authTime, and
// authorize's step-up requirements.
import Fastify from 'fastify'
import { expect, test } from 'tstyche'
import jwtAuth, {
  bearerChallenge, InsufficientUserAuthenticationError, type AcrLevel, type AmrValue, type AuthenticateHook,
  type AuthEventType, type AuthorizeRequirement
} from 'fastify-jwt-auth'

const app = Fastify()
const secret = 'x'.repeat(32)

test('request.auth.claims: amr, auth_time, acr', () => {
  app.get('/', async (request) => {
    const claims = request.auth!.claims
    expect(claims.amr).type.toBe<string[] | undefined>()
    expect(claims.auth_time).type.toBe<number | undefined>()
    expect(claims.acr).type.toBe<string | undefined>()
  })
})

test('the acr option: levels of RFC 8176 methods', () => {
  const levels: AcrLevel[] = [{ value: 'mfa', amr: ['pwd', 'otp'] }, { value: 'pwd', amr: ['pwd'] }]
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret, acr: levels })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret, acr: [{ value: 'mfa', amr: ['opt'] }] })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret, acr: { mfa: ['otp'] } })
  expect<AmrValue>().type.toBeAssignableFrom('hwk' as const)
  expect<AmrValue>().type.not.toBeAssignableFrom('password' as const)
})

test('issue: amr and authTime', () => {
  expect(app.jwtAuth.issue).type.toBeCallableWith({ id: 1 }, { amr: ['pwd', 'otp'], authTime: new Date() })
  expect(app.jwtAuth.issue).type.not.toBeCallableWith({ id: 1 }, { amr: 'pwd' })
  expect(app.jwtAuth.issue).type.not.toBeCallableWith({ id: 1 }, { authTime: 1700000000 })
})

test('authorize: maxAge, amr, acr, with the other requirements', () => {
  expect(app.authorize({ maxAge: '5m' })).type.toBe<AuthenticateHook>()
  expect(app.authorize({ maxAge: 300, amr: ['otp'], acr: 'mfa' })).type.toBe<AuthenticateHook>()
  expect(app.authorize({ roles: ['admin'], acr: ['mfa', 'phr'], all: true })).type.toBe<AuthenticateHook>()
  expect(app.authorize).type.not.toBeCallableWith({ maxAge: true })
  expect(app.authorize).type.not.toBeCallableWith({ amr: 'otp' })
  expect(app.authorize).type.not.toBeCallableWith({ acr: 2 })
  expect<AuthorizeRequirement>().type.toBeAssignableFrom({ maxAge: '10m', amr: ['hwk'] as const })
})

test('the step-up error and bearerChallenge', () => {
  expect(new InsufficientUserAuthenticationError('More recent authentication is required').code)
    .type.toBe<'FST_JWT_AUTH_INSUFFICIENT_USER_AUTHENTICATION'>()
  expect(bearerChallenge('api', { code: 'x', message: 'y', maxAge: 60, acrValues: 'mfa' })).type.toBe<string | undefined>()
})

test('routes.reauthenticate and the events', () => {
  const users = { findById: async () => null, findByLogin: async () => null }
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret, users, routes: { reauthenticate: false } })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret, users, routes: { reauthenticate: 'yes' } })
  expect<AuthEventType>().type.toBeAssignableFrom('reauthenticate' as const)
  expect<AuthEventType>().type.toBeAssignableFrom('reauthenticate.failure' as const)
})
