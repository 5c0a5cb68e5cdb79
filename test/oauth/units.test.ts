// Parts of sign-in with providers (issue 24) that a flow reaches only by a race or an app's own set-up: the new
// user of a sign-in that another callback linked first, the attempt cookie of an http (loopback) baseUrl, the
// reason of an unforeseen failure.
import Fastify from 'fastify'
import t from 'tap'
import jwtAuth, { StoreUnavailableError, type JwtAuthUsers } from '../../lib/index.js'
import { createAccounts } from '../../lib/federation/accounts.js'
import { resolveOptions } from '../../lib/config/options.js'
import { reasonOf } from '../../lib/routes/federation.js'
import { fakeUsers } from '../../lib/testing.js'
import { SECRET } from '../helpers/app.js'

const identityGroup = (winner: () => unknown) => ({
  findByIdentity: async () => winner(),
  linkIdentity: async () => false,
  listIdentities: async () => [],
  unlinkIdentity: async () => false
})

t.test('a new user whose link lost to another callback of the same sign-in: that callback\'s user', async (t) => {
  let calls = 0
  const users = { ...fakeUsers([]), ...identityGroup(() => calls++ === 0 ? null : { id: 'winner' }) } as JwtAuthUsers
  const { oauth } = resolveOptions({ secret: SECRET, users, routes: true, oauth: { baseUrl: 'https://a.example', providers: { github: { clientId: 'x' } }, successRedirect: '/' } })
  const accounts = createAccounts(users)
  const profile = { subject: '1', email: null, emailVerified: false }
  t.match(await accounts.signIn(oauth!.providers.get('github')!, profile), { user: { id: 'winner' }, arrival: 'created' })
  const lost = createAccounts({ ...fakeUsers([]), ...identityGroup(() => null) } as JwtAuthUsers)
  await t.rejects(lost.signIn(oauth!.providers.get('github')!, profile), { code: 'FST_JWT_AUTH_OAUTH_IDENTITY_TAKEN' })
  const linkedElsewhere = createAccounts({
    ...fakeUsers([]), ...identityGroup(() => null), findByEmail: async () => ({ id: 'u', emailVerified: true })
  } as JwtAuthUsers)
  const byEmail = { ...oauth!.providers.get('github')!, linkVerifiedEmail: true }
  await t.rejects(linkedElsewhere.signIn(byEmail, { subject: '1', email: 'a@example.test', emailVerified: true }),
    { code: 'FST_JWT_AUTH_OAUTH_IDENTITY_TAKEN' }, 'the user of the address has another identity of the provider')
  const closed = createAccounts({ findById: async () => null, ...identityGroup(() => null) } as JwtAuthUsers)
  await t.rejects(closed.signIn(oauth!.providers.get('github')!, profile), { code: 'FST_JWT_AUTH_OAUTH_NO_ACCOUNT', statusCode: 403 })
})

t.test('an http loopback baseUrl: the attempt cookie without __Host- and Secure', async (t) => {
  const app = Fastify()
  const users = { ...fakeUsers([]), ...identityGroup(() => null) } as JwtAuthUsers
  await app.register(jwtAuth, {
    secret: SECRET,
    users,
    routes: { captcha: false },
    rateLimit: false,
    oauth: { baseUrl: 'http://127.0.0.1:3000', providers: { github: { clientId: 'x' } }, successRedirect: '/' }
  })
  t.teardown(() => app.close())
  const begin = await app.inject({ url: '/auth/oauth/github', headers: { host: 'evil.example' } })
  t.equal(begin.statusCode, 302)
  t.match(begin.headers['set-cookie'], /^oauth_attempt=[\w-]{43}; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax$/)
  const location = new URL(begin.headers.location as string)
  t.equal(location.searchParams.get('redirect_uri'), 'http://127.0.0.1:3000/auth/oauth/github/callback', 'never from the Host header')
})

t.test('an unforeseen failure is reason error', async (t) => {
  t.equal(reasonOf(new StoreUnavailableError()), 'error')
  t.equal(reasonOf(Object.assign(new Error(), { reason: 'state' })), 'state')
})

t.test('without the oauth option: no oauth route', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, users: fakeUsers([]), routes: { captcha: false }, rateLimit: false })
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/auth/oauth/github' })).statusCode, 404)
  t.equal((await app.inject({ url: '/auth/identities' })).statusCode, 404)
})

t.test('Swagger documents the oauth routes: public sign-in routes, bearer on the identity routes', async (t) => {
  const { default: swagger } = await import('@fastify/swagger')
  const app = Fastify()
  await app.register(swagger, { openapi: { info: { title: 'test', version: '1.0.0' } } })
  const users = { ...fakeUsers([]), ...identityGroup(() => null) } as JwtAuthUsers
  await app.register(jwtAuth, {
    secret: SECRET,
    users,
    routes: { captcha: false },
    rateLimit: false,
    oauth: { baseUrl: 'https://app.example.com', providers: { github: { clientId: 'x' } }, successRedirect: '/' }
  })
  t.teardown(() => app.close())
  await app.ready()
  const { paths } = app.swagger() as unknown as { paths: Record<string, Record<string, { security?: unknown, tags?: string[] }>> }
  for (const [path, method] of [['/auth/oauth/{provider}', 'get'], ['/auth/oauth/{provider}/callback', 'get'], ['/auth/oauth/exchange', 'post']]) {
    t.match(paths[path!]?.[method!], { tags: ['oauth'] }, path!)
    t.equal(paths[path!]?.[method!]?.security, undefined, `${path} is public`)
  }
  for (const [path, method] of [['/auth/oauth/{provider}/link', 'post'], ['/auth/identities', 'get'], ['/auth/identities/{provider}', 'delete']]) {
    t.same(paths[path!]?.[method!]?.security, [{ bearerAuth: [] }], path!)
  }
})
