// Type tests of HMAC secret rotation: `secret` as a list of { kid, secret, algorithm }.
import Fastify from 'fastify'
import { expect, test } from 'tstyche'
import jwtAuth, { type HmacAlgorithm, type HmacOptions, type HmacSecret, type JwtAuthOptions } from 'fastify-jwt-auth'

const app = Fastify()

test('secret takes a string, a Buffer or a list of secrets with kids', () => {
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: 'x'.repeat(32) })
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: Buffer.alloc(48), algorithm: 'HS384' })
  expect(app.register).type.toBeCallableWith(jwtAuth, {
    secret: [
      { kid: '2026-11', secret: Buffer.alloc(64), algorithm: 'HS512' },
      { kid: '2026-10', secret: 'x'.repeat(32) }
    ]
  })
  // Migration from a single secret: the entry without a kid.
  expect(app.register).type.toBeCallableWith(jwtAuth, {
    secret: [{ kid: 'new', secret: 'y'.repeat(32) }, { secret: 'x'.repeat(32) }]
  })
  const secrets: HmacSecret[] = [{ kid: 'a', secret: 'x'.repeat(32) }]
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: secrets, issuer: 'api' })
})

test('HmacSecret', () => {
  expect<HmacSecret>().type.toBe<{ kid?: string, secret: string | Buffer, algorithm?: HmacAlgorithm }>()
  expect<HmacSecret>().type.toBeAssignableFrom({ secret: 'x' })
  expect<HmacSecret>().type.not.toBeAssignableFrom({ kid: 'a' })
  expect<HmacSecret>().type.not.toBeAssignableFrom({ kid: 1, secret: 'x' })
  expect<HmacSecret>().type.not.toBeAssignableFrom({ kid: 'a', secret: 'x', algorithm: 'RS256' })
  expect<HmacOptions['secret']>().type.toBe<string | Buffer | HmacSecret[]>()
})

test('wrong secret lists fail to compile', () => {
  // Each entry has its own algorithm: none beside the list.
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: [{ kid: 'a', secret: 'x' }], algorithm: 'HS256' })
  expect<JwtAuthOptions>().type.not.toBeAssignableFrom({
    secret: [{ kid: 'a', secret: 'x' }],
    algorithm: 'HS512' as const
  })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: [{ kid: 'a', secret: 'x', algorithm: 'ES256' }] })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: [{ kid: 'a', secret: 'x', algoritm: 'HS384' }] })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: [{ kid: 'a', secret: 42 }] })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: [{ kid: 'a', privateKey: 'pem' }] })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, {
    secret: [{ kid: 'a', secret: 'x' }],
    keys: [{ kid: 'k', algorithm: 'EdDSA', privateKey: 'pem' }]
  })
})
