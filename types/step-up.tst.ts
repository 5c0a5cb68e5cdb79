// Type tests of the authentication claims (amr, auth_time, acr), the acr option and issue's amr and authTime.
import Fastify from 'fastify'
import { expect, test } from 'tstyche'
import jwtAuth, { type AcrLevel, type AmrValue } from 'fastify-jwt-auth'

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
