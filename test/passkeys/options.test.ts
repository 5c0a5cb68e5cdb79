// The passkeys option, checked at register: every message names the option path; origins are an allowlist of
// secure origins under rpID; the routes and the users passkeys group are required.
import t from 'tap'
import type { JwtAuthOptions } from '../../lib/index.js'
import { resolveOptions } from '../../lib/config/options.js'
import { SECRET } from '../helpers/app.js'

const noop = async () => null
const USERS = {
  findById: noop,
  findByLogin: noop,
  passkeyUserHandle: noop,
  listPasskeys: async () => [],
  findPasskey: noop,
  addPasskey: async () => false,
  updatePasskey: async () => false,
  removePasskey: async () => false
}
const BASE = { rpID: 'example.com', rpName: 'Example', origins: ['https://example.com'] }

const resolve = (passkeys: unknown, extra: Record<string, unknown> = {}) =>
  resolveOptions({ secret: SECRET, users: USERS, routes: true, passkeys, ...extra } as JwtAuthOptions)

t.test('defaults: preferred user verification, 5 minutes; off without the option', async (t) => {
  t.same(resolve(BASE).passkeys, { ...BASE, userVerification: 'preferred', timeout: 300, registrationMaxAge: null })
  t.equal(resolveOptions({ secret: SECRET }).passkeys, null)
})

t.test('every setting; origins of hosts under rpID, and localhost over http', async (t) => {
  const passkeys = {
    rpID: 'example.com',
    rpName: 'My App',
    origins: ['https://example.com', 'https://app.example.com:8443'],
    userVerification: 'required',
    timeout: '90s',
    registrationMaxAge: '10m'
  }
  t.same(resolve(passkeys).passkeys, { ...passkeys, timeout: 90, registrationMaxAge: 600 })
  t.same(resolve({ rpID: 'localhost', rpName: 'Dev', origins: ['http://localhost:3000'] }).passkeys?.origins,
    ['http://localhost:3000'])
})

t.test('mistakes are refused, naming the option', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ['yes', /^fastify-jwt-auth: passkeys must be an object such as \{ rpID, rpName, origins \}/],
    [{ ...BASE, rpId: 'x' }, /unknown option passkeys\.rpId \(did you mean passkeys\.rpID\?\)/],
    [{ ...BASE, rpID: undefined }, /passkeys\.rpID must be a lower-case host name/],
    [{ ...BASE, rpID: 'https://example.com' }, /passkeys\.rpID must be a lower-case host name .* \(got "https:\/\/example\.com"\)/],
    [{ ...BASE, rpID: 'Example.com' }, /passkeys\.rpID must be a lower-case host name/],
    [{ ...BASE, rpID: 'example.com:443' }, /passkeys\.rpID must be/],
    [{ ...BASE, rpName: '' }, /passkeys\.rpName must be 1 to 64 characters/],
    [{ ...BASE, rpName: 'x'.repeat(65) }, /passkeys\.rpName must be 1 to 64 characters/],
    [{ ...BASE, rpName: 3 }, /passkeys\.rpName must be/],
    [{ ...BASE, origins: undefined }, /passkeys\.origins must be a non-empty array of origins/],
    [{ ...BASE, origins: [] }, /passkeys\.origins must be a non-empty array/],
    [{ ...BASE, origins: 'https://example.com' }, /passkeys\.origins must be a non-empty array/],
    [{ ...BASE, origins: ['https://example.com/'] }, /passkeys\.origins\[0\] must be an origin .*no path.*\(got "https:\/\/example\.com\/"\)/],
    [{ ...BASE, origins: ['https://example.com', 'example.com'] }, /passkeys\.origins\[1\] must be an origin/],
    [{ ...BASE, origins: [42] }, /passkeys\.origins\[0\] must be an origin/],
    [{ ...BASE, origins: ['http://example.com'] }, /passkeys\.origins\[0\] must be https \(http only on localhost\)/],
    [{ ...BASE, origins: ['https://evil.com'] }, /passkeys\.origins\[0\] must be passkeys\.rpID \(example\.com\) or a host under it/],
    [{ ...BASE, origins: ['https://notexample.com'] }, /passkeys\.origins\[0\] must be passkeys\.rpID/],
    [{ ...BASE, userVerification: 'always' }, /passkeys\.userVerification must be one of required, preferred, discouraged \(got always\)/],
    [{ ...BASE, userVerification: 1 }, /passkeys\.userVerification must be one of/],
    [{ ...BASE, timeout: '1s' }, /passkeys\.timeout must be from 10 s to 10 min \(got 1s\)/],
    [{ ...BASE, timeout: '1h' }, /passkeys\.timeout must be from 10 s to 10 min/],
    [{ ...BASE, timeout: 'soon' }, /passkeys\.timeout must be a duration/],
    [{ ...BASE, registrationMaxAge: 'recently' }, /passkeys\.registrationMaxAge must be a duration/],
    [{ ...BASE, registrationMaxAge: 0 }, /passkeys\.registrationMaxAge must be/]
  ]
  for (const [passkeys, message] of cases) t.throws(() => resolve(passkeys), { code: 'FST_JWT_AUTH_INVALID_OPTION', message })
})

t.test('the routes and every callback of the users passkeys group are required', async (t) => {
  t.throws(() => resolve(BASE, { routes: false }), { message: /passkeys needs the routes option/ })
  const { updatePasskey, removePasskey, ...some } = USERS
  t.throws(() => resolve(BASE, { users: some }),
    { message: /passkeys needs users\.updatePasskey, users\.removePasskey \(kyselyUsers has them all\)/ })
  t.throws(() => resolve(BASE, { users: { ...USERS, findPasskey: 'no' } }), { message: /users\.findPasskey must be a function/ })
})
