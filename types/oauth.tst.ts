// Type tests of sign-in with providers (issue 24): the oauth option, the users identities group, the errors, events.
import Fastify from 'fastify'
import { expect, test } from 'tstyche'
import jwtAuth, {
  OAuthStateError, type AuthEvent, type AuthEventType, type JwtAuthUsers, type NewUser, type OAuthOptions,
  type OAuthProviderOptions, type UserIdentity
} from 'fastify-jwt-auth'

const app = Fastify()
const secret = 'x'.repeat(32)
const users: JwtAuthUsers = {
  findById: async () => ({ id: 1 }),
  findByLogin: async () => null,
  create: async (input: NewUser) => ({ id: 2, ...input }),
  findByIdentity: async () => null,
  linkIdentity: async () => true,
  listIdentities: async (): Promise<UserIdentity[]> => [],
  unlinkIdentity: async () => false,
  findByEmail: async () => null
}

test('the oauth option', () => {
  expect(app.register).type.toBeCallableWith(jwtAuth, {
    secret,
    users,
    routes: true,
    oauth: {
      baseUrl: 'https://app.example.com',
      providers: { google: { clientId: 'a', clientSecret: 'b' }, github: { clientId: 'c', type: 'github' }, corp: { issuer: 'https://id.example', clientId: 'd', scopes: ['openid'], linkVerifiedEmail: true, mfa: false } },
      successRedirect: '/welcome',
      allowedRedirects: ['https://spa.example.com'],
      timeout: '5s'
    }
  })
  expect<OAuthOptions>().type.not.toBeAssignableFrom({ providers: {}, successRedirect: '/' })
  expect<OAuthProviderOptions>().type.not.toBeAssignableFrom({ issuer: 'https://id.example' })
  expect<OAuthProviderOptions>().type.not.toBeAssignableFrom({ clientId: 'a', type: 'saml' })
})

test('the identities group, the errors, the events', () => {
  expect<UserIdentity>().type.toBe<{ provider: string, subject: string, email: string | null, emailVerified: boolean, linkedAt: string }>()
  expect(new OAuthStateError('x').statusCode).type.toBe<400>()
  expect<AuthEventType>().type.toBeAssignableFrom('oauth.failure' as const)
  expect<AuthEvent['provider']>().type.toBe<string | undefined>()
})
