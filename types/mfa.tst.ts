// Type tests of second factors: the mfa option, the users MFA group, app.jwtAuth.mfa, the testing kit's totpCode.
import Fastify from 'fastify'
import { expect, test } from 'tstyche'
import jwtAuth, {
  type JwtAuthUsers, type MfaApi, type MfaChallenge, type MfaOptions, type StoredFactors, type TokenPair, type TotpSetup
} from 'fastify-jwt-auth'
import { kyselyUsers, sqliteDialect } from 'fastify-jwt-auth/kysely'
import { totpCode } from 'fastify-jwt-auth/testing'
import { Kysely } from 'kysely'

const app = Fastify()
const users = kyselyUsers(new Kysely<any>({ dialect: sqliteDialect(':memory:') }))

test('the mfa option: a key or a key list, totp, recovery codes, required', () => {
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: 'x'.repeat(32), users, mfa: { encryptionKey: 'k'.repeat(32) } })
  expect<MfaOptions>().type.toBeAssignableFrom({
    encryptionKey: [{ id: 'new', key: Buffer.alloc(32) }, { id: 'default', key: 'k'.repeat(32) }],
    totp: { issuer: 'Example', digits: 6, period: 30, window: 1 },
    recoveryCodes: { count: 10 },
    required: (user: unknown) => user !== null
  })
  expect<MfaOptions>().type.toBeAssignableFrom({ encryptionKey: 'k', required: true })
  expect<MfaOptions>().type.not.toBeAssignableFrom({ encryptionKey: [{ key: 'k' }] })
  expect<MfaOptions>().type.not.toBeAssignableFrom({ totp: { digits: 6 } })
})

test('the users MFA group: kyselyUsers has it', () => {
  expect<JwtAuthUsers>().type.toBeAssignableFrom(users)
  expect(users.findFactors('id')).type.toBe<Promise<StoredFactors | null>>()
  expect(users.enableTotp).type.toBeCallableWith('id', { totp: 'sealed', recoveryCodes: ['hash'] })
  expect(users.useRecoveryCode('id', 'hash')).type.toBe<Promise<boolean>>()
  expect<NonNullable<JwtAuthUsers['updateTotp']>>().type.toBeCallableWith('id', 'sealed', { previous: 'old' })
})

test('app.jwtAuth.mfa', () => {
  expect(app.jwtAuth.mfa).type.toBe<MfaApi>()
  expect(app.jwtAuth.mfa.setupTotp(1)).type.toBe<Promise<TotpSetup>>()
  expect(app.jwtAuth.mfa.setupTotp).type.toBeCallableWith('1', { familyId: 'f', metadata: { ip: '::1' } })
  expect(app.jwtAuth.mfa.confirmTotp('1', '123456')).type.toBe<Promise<{ recoveryCodes: string[] }>>()
  expect(app.jwtAuth.mfa.confirmTotp).type.not.toBeCallableWith('1', 123456)
  expect(app.jwtAuth.mfa.disable(1)).type.toBe<Promise<void>>()
  expect(app.jwtAuth.mfa.regenerateRecoveryCodes(1)).type.toBe<Promise<{ recoveryCodes: string[] }>>()
  expect(app.jwtAuth.mfa.begin({ id: 1, roles: ['user'] })).type.toBe<Promise<MfaChallenge | null>>()
  expect(app.jwtAuth.mfa.verify('token', { code: '123456' })).type.toBe<Promise<TokenPair>>()
  expect(app.jwtAuth.mfa.verify).type.toBeCallableWith('token', { recoveryCode: 'abcde-fghjk' }, { ip: '::1' })
  expect(app.jwtAuth.mfa.verify).type.not.toBeCallableWith('token', { totp: '123456' })
})

test('totpCode: a secret or a URI, at a time', () => {
  expect(totpCode('JBSWY3DPEHPK3PXP')).type.toBe<string>()
  expect(totpCode).type.toBeCallableWith('otpauth://totp/x?secret=JBSWY3DPEHPK3PXP', { timestamp: 0 })
  expect(totpCode).type.toBeCallableWith('JBSWY3DPEHPK3PXP', { digits: 8, period: 60 })
  expect(totpCode).type.not.toBeCallableWith('JBSWY3DPEHPK3PXP', { window: 1 })
})

test('route config: mfaSetup lets the tokens of a user still setting up a factor through', () => {
  expect(app.get).type.toBeCallableWith('/onboarding', { onRequest: app.authenticate, config: { mfaSetup: true } }, async () => ({}))
  expect(app.get).type.not.toBeCallableWith('/onboarding', { config: { mfaSetup: 'yes' } }, async () => ({}))
})
