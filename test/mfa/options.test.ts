// The mfa option, checked at register: every message names the option path; the users MFA group is required; a
// key-value store without increment is refused (the MFA lockout and the one-use codes need atomic counters).
import Fastify from 'fastify'
import t from 'tap'
import jwtAuth, { type JwtAuthOptions } from '../../lib/index.js'
import { resolveOptions } from '../../lib/config/options.js'
import { keyValueStore } from '../helpers/kv-store.js'
import { SECRET } from '../helpers/app.js'

const KEY = 'k'.repeat(32)
const noop = async () => null
export const MFA_USERS = {
  findById: noop,
  findFactors: noop,
  enableTotp: async () => true,
  updateTotp: async () => {},
  disableTotp: async () => {},
  replaceRecoveryCodes: async () => {},
  useRecoveryCode: async () => false
}

const resolve = (mfa: unknown, extra: Record<string, unknown> = {}) =>
  resolveOptions({ secret: SECRET, users: MFA_USERS, mfa, ...extra } as JwtAuthOptions)

t.test('defaults: one key (id default), 6 digits, 30 s, a window of 1, 10 codes, not required', async (t) => {
  const { mfa } = resolve({ encryptionKey: KEY })
  t.same(mfa?.keys.map(({ id, key }) => [id, key.toString()]), [['default', KEY]])
  t.same(mfa?.totp, { issuer: 'api', digits: 6, period: 30, window: 1 }, 'the issuer is the realm without an issuer')
  t.same(mfa?.recoveryCodes, { count: 10 })
  t.equal(mfa?.required, null)
  t.equal(resolve({ encryptionKey: KEY }, { issuer: 'Example' }).mfa?.totp.issuer, 'Example', 'else the issuer')
  t.equal(resolveOptions({ secret: SECRET }).mfa, null, 'off without the option')
})

t.test('every setting, a key list, required as a boolean or a function', async (t) => {
  const required = (user: unknown) => (user as { id: number }).id === 1
  const { mfa } = resolve({
    encryptionKey: [{ id: 'k2', key: Buffer.alloc(40, 2) }, { id: 'k1', key: KEY }],
    totp: { issuer: 'My App', digits: 8, period: 60, window: 0 },
    recoveryCodes: { count: 4 },
    required
  })
  t.same(mfa?.keys.map(({ id }) => id), ['k2', 'k1'])
  t.same(mfa?.totp, { issuer: 'My App', digits: 8, period: 60, window: 0 })
  t.equal(mfa?.recoveryCodes.count, 4)
  t.equal(mfa?.required, required)
  t.equal(resolve({ encryptionKey: KEY, required: true }).mfa?.required?.({}), true)
  t.equal(resolve({ encryptionKey: KEY, required: false }).mfa?.required, null)
})

t.test('hostile or mistaken settings fail at register, naming the option', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ['key', /mfa must be an object such as \{ encryptionKey \}/],
    [{ encryptionKey: KEY, totps: {} }, /unknown option mfa\.totps \(did you mean mfa\.totp\?\)/],
    [{}, /mfa\.encryptionKey is required/],
    [{ encryptionKey: '' }, /mfa\.encryptionKey is required/],
    [{ encryptionKey: 'short' }, /mfa\.encryptionKey must be at least 32 bytes \(got 5\); generate one with/],
    [{ encryptionKey: 42 }, /mfa\.encryptionKey must be a string or a Buffer .*, or an array of \{ id, key \}/],
    [{ encryptionKey: [] }, /mfa\.encryptionKey must not be an empty array/],
    [{ encryptionKey: ['x'] }, /mfa\.encryptionKey\[0\] must be \{ id, key \}/],
    [{ encryptionKey: [{ id: 'a', key: KEY, kid: 'a' }] }, /unknown option mfa\.encryptionKey\[0\]\.kid/],
    [{ encryptionKey: [{ id: 'a.b', key: KEY }] }, /mfa\.encryptionKey\[0\]\.id must be 1 to 32 letters/],
    [{ encryptionKey: [{ key: KEY }] }, /mfa\.encryptionKey\[0\]\.id must be/],
    [{ encryptionKey: [{ id: 'a', key: 1 }] }, /mfa\.encryptionKey\[0\]\.key must be a string or a Buffer of at least/],
    [{ encryptionKey: [{ id: 'a', key: 'short' }] }, /mfa\.encryptionKey\[0\]\.key must be at least 32 bytes/],
    [{ encryptionKey: [{ id: 'a', key: KEY }, { id: 'a', key: `${KEY}x` }] },
      /mfa\.encryptionKey\[1\]\.id duplicates mfa\.encryptionKey\[0\]\.id \(a\)/],
    [{ encryptionKey: [{ id: 'a', key: KEY }, { id: 'b', key: KEY }] },
      /mfa\.encryptionKey\[1\]\.key is the same as mfa\.encryptionKey\[0\]\.key/],
    [{ encryptionKey: KEY, totp: 'x' }, /mfa\.totp must be an object/],
    [{ encryptionKey: KEY, totp: { digit: 6 } }, /unknown option mfa\.totp\.digit \(did you mean mfa\.totp\.digits\?\)/],
    [{ encryptionKey: KEY, totp: { issuer: 'a:b' } }, /mfa\.totp\.issuer must be 1 to 64 characters without a colon/],
    [{ encryptionKey: KEY, totp: { issuer: '' } }, /mfa\.totp\.issuer must be/],
    [{ encryptionKey: KEY, totp: { issuer: 7 } }, /mfa\.totp\.issuer must be/],
    [{ encryptionKey: KEY, totp: { digits: 5 } }, /mfa\.totp\.digits must be an integer from 6 to 8 \(got 5\)/],
    [{ encryptionKey: KEY, totp: { period: 30.5 } }, /mfa\.totp\.period must be an integer from 15 to 120/],
    [{ encryptionKey: KEY, totp: { window: 4 } }, /mfa\.totp\.window must be an integer from 0 to 3 \(got 4\)/],
    [{ encryptionKey: KEY, recoveryCodes: 10 }, /mfa\.recoveryCodes must be an object such as \{ count: 10 \}/],
    [{ encryptionKey: KEY, recoveryCodes: { counts: 1 } }, /unknown option mfa\.recoveryCodes\.counts/],
    [{ encryptionKey: KEY, recoveryCodes: { count: 100 } }, /mfa\.recoveryCodes\.count must be an integer from 4 to 32/],
    [{ encryptionKey: KEY, required: 'yes' }, /mfa\.required must be a boolean or a function/]
  ]
  for (const [mfa, message] of cases) {
    t.throws(() => resolve(mfa), { code: 'FST_JWT_AUTH_INVALID_OPTION', message }, String(message))
  }
})

t.test('mfa needs every callback of the users MFA group, and findById', async (t) => {
  const { findFactors, useRecoveryCode, findById, ...rest } = MFA_USERS
  t.throws(() => resolveOptions({ secret: SECRET, users: rest, mfa: { encryptionKey: KEY } } as JwtAuthOptions), {
    message: /mfa needs users\.findById, users\.findFactors, users\.useRecoveryCode \(kyselyUsers has them all\)/
  })
  t.throws(() => resolveOptions({ secret: SECRET, users: { ...MFA_USERS, useRecoveryCodes: noop }, mfa: { encryptionKey: KEY } } as JwtAuthOptions), {
    message: /unknown option users\.useRecoveryCodes \(did you mean users\.useRecoveryCode\?\)/
  })
  t.throws(() => resolveOptions({ secret: SECRET, users: { ...MFA_USERS, enableTotp: true } } as unknown as JwtAuthOptions), {
    message: /users\.enableTotp must be a function/
  })
})

t.test('a key-value store without increment is refused at register', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => {
    await app.register(jwtAuth, {
      secret: SECRET, store: keyValueStore(), users: MFA_USERS, mfa: { encryptionKey: KEY }
    } as JwtAuthOptions)
  }, { message: /mfa needs atomic counters \(its lockout, and each TOTP code used once\)/ })
  const atomic = Fastify()
  t.teardown(() => atomic.close())
  await atomic.register(jwtAuth, {
    secret: SECRET, store: keyValueStore({ atomic: true }), users: MFA_USERS, mfa: { encryptionKey: KEY }
  } as JwtAuthOptions)
  await atomic.ready()
  t.pass('one with increment is taken')
})
