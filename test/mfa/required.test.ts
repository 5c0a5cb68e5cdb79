// mfa.required: a user without a factor who logs in (or registers) gets a session that reaches the MFA setup
// routes only (and /me, /logout, routes marked mfaSetup) until a factor is confirmed; then a login gives full tokens.
import t from 'tap'
import { totpCode } from '../../lib/testing.js'
import { decodePart } from '../helpers/app.js'
import { buildMfaApp, loginRequest, verifyRequest, type MfaApp } from '../helpers/mfa-app.js'

const withRoutes = (app: { get: MfaApp['get'], authenticate: MfaApp['authenticate'] }) => {
  app.get('/orders', { onRequest: app.authenticate }, async () => ({ orders: [] }))
  app.get('/welcome', { onRequest: app.authenticate, config: { mfaSetup: true } }, async () => ({ hello: true }))
}

t.test('required: true: the session reaches the setup routes only; confirmed, a new login gives full tokens', async (t) => {
  const app = await buildMfaApp(t, { mfa: { required: true }, after: withRoutes })
  const login = await loginRequest(app, 'bob')
  t.equal(login.statusCode, 200)
  const { access_token: access, refresh_token: refresh } = login.json()
  t.equal(decodePart(access, 1).mfa_setup, true)
  const headers = { authorization: `Bearer ${access}` }
  const orders = await app.inject({ url: '/orders', headers })
  t.equal(orders.statusCode, 403)
  t.equal(orders.json().code, 'FST_JWT_AUTH_MFA_SETUP_REQUIRED')
  t.match(orders.headers['www-authenticate'], /error="insufficient_scope"/)
  t.equal((await app.inject({ url: '/welcome', headers })).statusCode, 200, 'a route of the app marked mfaSetup')
  t.equal((await app.inject({ url: '/auth/me', headers })).json().username, 'bob')
  const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: refresh } })
  t.equal(decodePart(refreshed.json().access_token, 1).mfa_setup, true, 'a refresh keeps the restriction')
  t.equal((await app.inject({ method: 'POST', url: '/auth/password/change', headers, payload: { currentPassword: 'x', newPassword: 'y'.repeat(12) } })).statusCode, 403)

  const { secret } = (await app.inject({ method: 'POST', url: '/auth/mfa/totp/setup', headers })).json()
  const confirmed = await app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm', headers, payload: { code: totpCode(secret, { timestamp: Date.now() - 30_000 }) } })
  t.equal(confirmed.statusCode, 200)
  const challenge = (await loginRequest(app, 'bob')).json()
  t.equal(challenge.mfa_required, true, 'the next login has the second step')
  const full = await verifyRequest(app, { mfa_token: challenge.mfa_token, code: totpCode(secret) })
  t.equal(decodePart(full.json().access_token, 1).mfa_setup, undefined)
  t.equal((await app.inject({ url: '/orders', headers: { authorization: `Bearer ${full.json().access_token}` } })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/auth/logout', headers })).statusCode, 204, 'the setup session can log out')
})

t.test('required as a function of the user (never given the hash); register is kept to the setup too', async (t) => {
  const seen: unknown[] = []
  const app = await buildMfaApp(t, {
    mfa: { required: async (user: { username: string }) => { seen.push(user); return user.username !== 'bob' } },
    after: withRoutes,
    users: (users) => ({
      ...users,
      create: async (input: Record<string, unknown>) => {
        const record = { ...input, id: '9', roles: [] } as never
        app.records.push(record)
        return record
      }
    })
  })
  const bob = (await loginRequest(app, 'bob')).json()
  t.equal((await app.inject({ url: '/orders', headers: { authorization: `Bearer ${bob.access_token}` } })).statusCode, 200)
  const alice = (await loginRequest(app, 'alice')).json()
  t.equal((await app.inject({ url: '/orders', headers: { authorization: `Bearer ${alice.access_token}` } })).statusCode, 403)
  t.ok(seen.every((user) => !Object.hasOwn(user as object, 'passwordHash')), 'no hash given to required')
  const registered = await app.inject({ method: 'POST', url: '/auth/register', payload: { username: 'dave', password: 'a long enough password' } })
  t.equal(registered.statusCode, 201)
  t.equal(decodePart(registered.json().access_token, 1).mfa_setup, true)
})

t.test('the claim is the plugin\'s: issue() refuses it', async (t) => {
  const app = await buildMfaApp(t)
  await t.rejects(app.jwtAuth.issue({ id: '1' }, { claims: { mfa_setup: true } }), { name: 'TypeError', message: /mfa_setup claim is set by the plugin/ })
})
