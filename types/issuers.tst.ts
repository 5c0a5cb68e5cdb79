// Type tests of trustedIssuers, legacy and request.auth.issuer, on the published declarations.
import { generateKeyPairSync } from 'node:crypto'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { expect, test } from 'tstyche'
import jwtAuth, { IssuerUnavailableError, type JwtAuthOptions } from 'fastify-jwt-auth'

const app = Fastify()
const secret = 'x'.repeat(32)
type TrustedIssuer = NonNullable<JwtAuthOptions['trustedIssuers']>[number]
type Legacy = NonNullable<JwtAuthOptions['legacy']>
const issuer = { issuer: 'https://idp.example', jwksUri: 'https://idp.example/certs', audience: 'api' }

test('trustedIssuers: issuer, jwksUri, audience and asymmetric algorithms, and the optional rest', () => {
  expect(app.register).type.toBeCallableWith(jwtAuth, {
    secret, trustedIssuers: [{ ...issuer, algorithms: ['RS256'] }]
  })
  const options: JwtAuthOptions = {
    secret,
    trustedIssuers: [{
      issuer: 'https://login.example/v2.0',
      jwksUri: 'https://login.example/keys',
      audience: ['api://a', 'api://b'],
      algorithms: ['RS256', 'PS512', 'ES256', 'ES512', 'EdDSA'],
      typ: 'at+jwt',
      cacheTtl: '10m',
      maxStale: 0,
      cooldown: 30,
      timeout: '5s',
      mapUser: async (claims) => {
        expect(claims.sub).type.toBe<string>()
        expect(claims.iss).type.toBe<string>()
        expect(claims.exp).type.toBe<number>()
        expect(claims.scope).type.toBe<unknown>()
        return { id: claims.sub }
      }
    }]
  }
  expect(app.register).type.toBeCallableWith(jwtAuth, options)
  type Given<Algorithm> = { issuer: string, jwksUri: string, audience: string, algorithms: Algorithm[] }
  expect<Given<'RS256' | 'ES384'>>().type.toBeAssignableTo<TrustedIssuer>()
  expect<Given<'HS256'>>().type.not.toBeAssignableTo<TrustedIssuer>()
  expect<Given<'none'>>().type.not.toBeAssignableTo<TrustedIssuer>()
  expect<Omit<Given<'RS256'>, 'audience'>>().type.not.toBeAssignableTo<TrustedIssuer>()
  expect<Omit<Given<'RS256'>, 'jwksUri'>>().type.not.toBeAssignableTo<TrustedIssuer>()
  expect(app.register).type.not.toBeCallableWith(jwtAuth, {
    secret, trustedIssuers: [{ ...issuer, algorithms: ['RS256'], jwksUrl: 'https://x' }]
  })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, {
    secret, trustedIssuers: [{ ...issuer, algorithms: ['RS256'], mapUser: 'sub' }]
  })
})

test('legacy: a secret with HMAC algorithms or a public key with asymmetric ones, until a date', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  expect(app.register).type.toBeCallableWith(jwtAuth, {
    secret, legacy: { secret: 'old', algorithms: ['HS256', 'HS512'], until: '2026-06-30' }
  })
  expect(app.register).type.toBeCallableWith(jwtAuth, {
    secret, legacy: { secret: Buffer.from('old'), algorithms: ['HS384'], until: new Date() }
  })
  const options: JwtAuthOptions = {
    secret,
    legacy: {
      publicKey,
      algorithms: ['RS256'],
      until: new Date(),
      mapUser: (claims) => {
        expect(claims.sub).type.toBe<string | undefined>()
        expect(claims.iat).type.toBe<number | undefined>()
        return claims.uid === undefined ? null : { id: String(claims.uid) }
      }
    }
  }
  expect(app.register).type.toBeCallableWith(jwtAuth, options)
  expect(app.register).type.toBeCallableWith(jwtAuth, {
    secret, legacy: { publicKey: '-----BEGIN PUBLIC KEY-----...', algorithms: ['ES256'], until: '2026-06-30' }
  })
  expect<{ secret: string, algorithms: 'HS256'[], until: string }>().type.toBeAssignableTo<Legacy>()
  expect<{ secret: string, algorithms: 'RS256'[], until: string }>().type.not.toBeAssignableTo<Legacy>()
  expect<{ publicKey: string, algorithms: 'RS256'[], until: Date }>().type.toBeAssignableTo<Legacy>()
  expect<{ publicKey: string, algorithms: 'HS256'[], until: Date }>().type.not.toBeAssignableTo<Legacy>()
  type Both = { secret: string, publicKey: string, algorithms: 'HS256'[], until: string }
  expect<Both>().type.not.toBeAssignableTo<Legacy>()
  expect<{ secret: string, algorithms: 'HS256'[] }>().type.not.toBeAssignableTo<Legacy>()
  expect<{ secret: string, algorithms: 'HS256'[], until: number }>().type.not.toBeAssignableTo<Legacy>()
})

test('request.auth.issuer: the issuer of a token that is not the plugin\'s own', () => {
  app.get('/', { onRequest: app.authenticate }, async (request: FastifyRequest, _reply: FastifyReply) => {
    expect(request.auth!.issuer).type.toBe<string | undefined>()
  })
  const error = new IssuerUnavailableError()
  expect(error.code).type.toBe<'FST_JWT_AUTH_ISSUER_UNAVAILABLE'>()
  expect(error.statusCode).type.toBe<503>()
})
