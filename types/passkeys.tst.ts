// Type tests of passkeys (issue 23): the passkeys option, the users passkeys group (kyselyUsers has it), the errors,
// the events, a passkey as the second step's proof.
import Fastify from 'fastify'
import { expect, test } from 'tstyche'
import jwtAuth, {
  PasskeyInvalidError, PasskeyLastLoginError, PasskeyLoginFailedError, type AuthEvent, type AuthEventType,
  type FoundPasskey, type JwtAuthUsers, type MfaApi, type MfaChallenge, type PasskeysOptions, type PasskeyUse,
  type PasskeyUserVerification, type StoredPasskey, type TokenPair
} from 'fastify-jwt-auth'
import { kyselyUsers, sqliteDialect } from 'fastify-jwt-auth/kysely'
import { Kysely } from 'kysely'

const app = Fastify()
const users = kyselyUsers(new Kysely<any>({ dialect: sqliteDialect(':memory:') }))

test('the passkeys option', () => {
  expect(app.register).type.toBeCallableWith(jwtAuth, {
    secret: 'x'.repeat(32),
    users,
    routes: true,
    passkeys: { rpID: 'example.com', rpName: 'Example', origins: ['https://example.com'], userVerification: 'required', timeout: '2m' }
  })
  expect<PasskeysOptions>().type.toBeAssignableFrom({ rpID: 'example.com', rpName: 'Example', origins: ['https://example.com'] })
  expect<PasskeysOptions>().type.not.toBeAssignableFrom({ rpID: 'example.com', rpName: 'Example' })
  expect<PasskeysOptions>().type.not.toBeAssignableFrom({ rpID: 'example.com', rpName: 'Example', origins: 'https://example.com' })
  expect<PasskeysOptions>().type.toBeAssignableFrom({
    rpID: 'example.com', rpName: 'Example', origins: ['https://example.com'], registrationMaxAge: '5m'
  })
  expect<PasskeysOptions>().type.not.toBeAssignableFrom({
    rpID: 'example.com', rpName: 'Example', origins: ['https://example.com'], registrationMaxAge: true
  })
  expect<PasskeyUserVerification>().type.toBe<'required' | 'preferred' | 'discouraged'>()
})

test('the users passkeys group: kyselyUsers has it', () => {
  expect<JwtAuthUsers>().type.toBeAssignableFrom(users)
  expect(users.passkeyUserHandle('id', 'candidate')).type.toBe<Promise<string | null>>()
  expect(users.listPasskeys('id')).type.toBe<Promise<StoredPasskey[]>>()
  expect(users.findPasskey('credential')).type.toBe<Promise<FoundPasskey | null>>()
  expect(users.addPasskey).type.toBeCallableWith('id', {
    id: 'c', publicKey: 'k', counter: 0, transports: ['internal'], backedUp: true, name: 'Laptop', createdAt: 'now', lastUsedAt: null
  })
  expect(users.addPasskey).type.not.toBeCallableWith('id', { id: 'c', publicKey: 'k' })
  expect(users.updatePasskey).type.toBeCallableWith('c', { counter: 2, backedUp: true, lastUsedAt: 'now' }, { previousCounter: 1 })
  expect(users.removePasskey('id', 'c')).type.toBe<Promise<boolean>>()
  expect<FoundPasskey>().type.toBeAssignableTo<StoredPasskey & { userId: string, userHandle: string }>()
  expect<PasskeyUse>().type.toBe<{ counter: number, backedUp: boolean, lastUsedAt: string }>()
})

test('the errors, the events, the second step', () => {
  expect(new PasskeyInvalidError().statusCode).type.toBe<400>()
  expect(new PasskeyLoginFailedError().statusCode).type.toBe<401>()
  expect(new PasskeyLastLoginError().code).type.toBe<'FST_JWT_AUTH_PASSKEY_LAST_LOGIN'>()
  expect<AuthEventType>().type.toBeAssignableFrom('passkey.login.failure' as const)
  expect<AuthEvent['credentialId']>().type.toBe<string | undefined>()
  expect<MfaChallenge['methods'][number]>().type.toBe<'totp' | 'recovery_code' | 'passkey'>()
  const mfa = {} as MfaApi
  expect(mfa.verify('token', { passkey: {} })).type.toBe<Promise<TokenPair>>()
})
