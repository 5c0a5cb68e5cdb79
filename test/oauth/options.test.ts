// The oauth option (issue 24), validated at register: every message names the option's path and says what to give.
import t from 'tap'
import { resolveOptions } from '../../lib/config/options.js'
import type { JwtAuthOptions } from '../../lib/index.js'
import { fakeUsers } from '../../lib/testing.js'
import { SECRET } from '../helpers/app.js'

const users = {
  ...fakeUsers([]),
  findByIdentity: async () => null,
  linkIdentity: async () => true,
  listIdentities: async () => [],
  unlinkIdentity: async () => true,
  findByEmail: async () => null
}
const google = { clientId: 'id', clientSecret: 'secret' }
const base = { baseUrl: 'https://app.example.com', providers: { google }, successRedirect: '/welcome' }
const resolve = (oauth: unknown, extra: Partial<JwtAuthOptions> = {}) =>
  resolveOptions({ secret: SECRET, users, routes: true, oauth, ...extra } as JwtAuthOptions)

t.test('valid options, with their defaults', async (t) => {
  const { oauth } = resolve({
    ...base,
    providers: {
      google,
      github: { clientId: 'gh', clientSecret: 's', linkVerifiedEmail: true },
      corp: { issuer: 'https://id.corp.example', clientId: 'c', scopes: ['openid', 'email'] },
      ghes: { type: 'github', issuer: 'https://git.corp.example', apiUrl: 'https://git.corp.example/api/v3', clientId: 'x' }
    },
    allowedRedirects: ['https://spa.example.com', 'https://other.example.com/landing', 'http://localhost:5173'],
    timeout: '3s'
  })
  t.equal(oauth!.baseUrl, 'https://app.example.com')
  t.equal(oauth!.successRedirect.href, 'https://app.example.com/welcome')
  t.equal(oauth!.timeoutMs, 3000)
  t.same([...oauth!.allowedOrigins], ['https://spa.example.com', 'http://localhost:5173'])
  t.same([...oauth!.allowedUrls], ['https://other.example.com/landing'])
  t.match(oauth!.providers.get('google'), { type: 'oidc', issuer: new URL('https://accounts.google.com'), scopes: ['openid', 'email', 'profile'], linkVerifiedEmail: false })
  t.match(oauth!.providers.get('github'), { type: 'github', issuer: new URL('https://github.com'), scopes: ['read:user', 'user:email'], linkVerifiedEmail: true, apiUrl: new URL('https://api.github.com') })
  t.match(oauth!.providers.get('corp'), { type: 'oidc', clientSecret: undefined })
  t.equal(resolve({ ...base, successRedirect: 'https://spa.example.com/in', baseUrl: 'http://127.0.0.1:3000/' }).oauth!.baseUrl, 'http://127.0.0.1:3000')
  t.equal(resolve(undefined).oauth, null)
  t.equal(resolve(false).oauth, null)
})

t.test('each mistake fails register, naming the option', async (t) => {
  const cases: Array<[unknown, RegExp, Partial<JwtAuthOptions>?]> = [
    ['yes', /^fastify-jwt-auth: oauth must be \{ baseUrl, providers, successRedirect, allowedRedirects\? \}/],
    [{ ...base, provider: {} }, /unknown option oauth\.provider \(did you mean oauth\.providers\?\)/],
    [base, /oauth needs the routes option/, { routes: false }],
    [{ ...base, baseUrl: 'http://app.example.com' }, /oauth\.baseUrl must be an https origin \(or http on loopback\)/],
    [{ ...base, baseUrl: 'https://app.example.com/auth' }, /oauth\.baseUrl must be an origin, with no path or query .*use https:\/\/app\.example\.com/],
    [{ ...base, baseUrl: 'https://user:pw@app.example.com' }, /oauth\.baseUrl must not carry credentials/],
    [{ ...base, baseUrl: 42 }, /oauth\.baseUrl must be an https origin/],
    [{ ...base, providers: {} }, /oauth\.providers must name at least one provider/],
    [{ ...base, providers: { 'Bad Name': google } }, /oauth\.providers: "Bad Name" must be 1 to 64 lower-case letters/],
    [{ ...base, providers: { google: 'x' } }, /oauth\.providers\.google must be \{ issuer, clientId/],
    [{ ...base, providers: { google: { ...google, clientID: 'x' } } }, /unknown option oauth\.providers\.google\.clientID \(did you mean oauth\.providers\.google\.clientId\?\)/],
    [{ ...base, providers: { corp: { clientId: 'x' } } }, /oauth\.providers\.corp\.issuer is required/],
    [{ ...base, providers: { corp: { clientId: 'x', issuer: 'http://id.example' } } }, /oauth\.providers\.corp\.issuer must be an https URL \(http only on loopback\)/],
    [{ ...base, providers: { google: { clientSecret: 's' } } }, /oauth\.providers\.google\.clientId must be a non-empty string/],
    [{ ...base, providers: { google: { ...google, clientSecret: '' } } }, /oauth\.providers\.google\.clientSecret must be a non-empty string/],
    [{ ...base, providers: { google: { ...google, scopes: ['email'] } } }, /oauth\.providers\.google\.scopes must include 'openid'/],
    [{ ...base, providers: { google: { ...google, scopes: 'openid' } } }, /oauth\.providers\.google\.scopes must be an array of scope names/],
    [{ ...base, providers: { google: { ...google, linkVerifiedEmail: 'yes' } } }, /oauth\.providers\.google\.linkVerifiedEmail must be a boolean/],
    [{ ...base, providers: { google: { ...google, mfa: 'no' } } }, /oauth\.providers\.google\.mfa must be a boolean/],
    [{ ...base, providers: { google: { ...google, type: 'saml' } } }, /oauth\.providers\.google\.type must be 'oidc' or 'github' \(got saml\)/],
    [{ ...base, providers: { google: { ...google, apiUrl: 'https://api.example' } } }, /oauth\.providers\.google\.apiUrl is for type: 'github' only/],
    [{ ...base, successRedirect: '' }, /oauth\.successRedirect must be a path of oauth\.baseUrl/],
    [{ ...base, successRedirect: '//evil.example' }, /oauth\.successRedirect must be an https URL/],
    [{ ...base, allowedRedirects: 'https://spa.example.com' }, /oauth\.allowedRedirects must be an array/],
    [{ ...base, allowedRedirects: ['ftp://spa.example.com'] }, /oauth\.allowedRedirects\[0\] must be an https URL/],
    [{ ...base, timeout: '1ms' }, /oauth\.timeout must be at least 100ms/],
    [base, /oauth needs users\.findByIdentity, users\.linkIdentity, users\.listIdentities, users\.unlinkIdentity \(the users identities group/, { users: fakeUsers([]) }],
    [{ ...base, providers: { google: { ...google, linkVerifiedEmail: true } } }, /oauth needs users\.findByEmail/,
      { users: { ...users, findByEmail: undefined } }]
  ]
  for (const [oauth, message, extra] of cases) {
    t.throws(() => resolve(oauth, extra), { code: 'FST_JWT_AUTH_INVALID_OPTION', message }, String(message))
  }
})
