// DELETE /mfa/totp and POST /mfa/recovery-codes: authenticated, and recent with a second factor (step-up: a code
// proved within 5 minutes, at login or by POST /reauthenticate); otherwise 401 insufficient_user_authentication.
import t from 'tap'
import { totpCode } from '../../lib/testing.js'
import { fakeClock } from '../helpers/clock.js'
import { buildMfaApp, enrol, loginRequest, sessionOf, verifyRequest, type MfaApp } from '../helpers/mfa-app.js'

async function mfaLogin (app: MfaApp, secret: string, username = 'alice', offset = 0): Promise<Record<string, string>> {
  const token = (await loginRequest(app, username)).json().mfa_token
  const answer = await verifyRequest(app, { mfa_token: token, code: totpCode(secret, { timestamp: Date.now() + offset * 30_000 }) })
  return { authorization: `Bearer ${answer.json().access_token}` }
}

const disable = (app: MfaApp, headers: Record<string, string>) =>
  app.inject({ method: 'DELETE', url: '/auth/mfa/totp', headers })
const regenerate = (app: MfaApp, headers: Record<string, string>) =>
  app.inject({ method: 'POST', url: '/auth/mfa/recovery-codes', headers })

t.test('right after an MFA login: TOTP turns off (with its codes); the next login gives tokens at once', async (t) => {
  const app = await buildMfaApp(t)
  const { secret } = await enrol(app, '1')
  const headers = await mfaLogin(app, secret)
  const answer = await disable(app, headers)
  t.equal(answer.statusCode, 204)
  t.equal(app.factors.get('1'), undefined)
  t.ok(app.events.some((event) => event.type === 'mfa.disable' && event.userId === '1'))
  t.ok((await loginRequest(app, 'alice')).json().access_token, 'no second step any more')
  const again = await disable(app, headers)
  t.equal(again.statusCode, 409)
  t.equal(again.json().code, 'FST_JWT_AUTH_MFA_NOT_ENABLED')
})

t.test('a session without a recent second factor: 401 insufficient_user_authentication; a code reauthenticates it', async (t) => {
  const app = await buildMfaApp(t)
  const { secret } = await enrol(app, '1')
  const password = await sessionOf(app, '1')
  for (const call of [disable, regenerate]) {
    const answer = await call(app, password.headers)
    t.equal(answer.statusCode, 401)
    t.match(answer.headers['www-authenticate'], /error="insufficient_user_authentication"/)
    t.match(answer.headers['www-authenticate'], /max_age="300"/)
  }
  t.ok(app.factors.get('1'), 'nothing changed')
  const reauthenticated = await app.inject({ method: 'POST', url: '/auth/reauthenticate', headers: password.headers, payload: { code: totpCode(secret) } })
  const fresh = { authorization: `Bearer ${reauthenticated.json().access_token}` }
  t.equal((await regenerate(app, fresh)).statusCode, 200, 'a code just proved')
  t.equal((await app.inject({ method: 'DELETE', url: '/auth/mfa/totp' })).statusCode, 401, 'no token')
})

t.test('5 minutes after the code, the session is not recent any more', async (t) => {
  const clock = fakeClock(t)
  const app = await buildMfaApp(t)
  const { secret } = await enrol(app, '1')
  const headers = await mfaLogin(app, secret)
  clock.now += 301_000
  const answer = await disable(app, headers)
  t.equal(answer.statusCode, 401)
  t.match(answer.headers['www-authenticate'], /insufficient_user_authentication/)
})

t.test('new recovery codes replace the old ones, shown once', async (t) => {
  const app = await buildMfaApp(t)
  const { secret, recoveryCodes: old } = await enrol(app, '1')
  const answer = await regenerate(app, await mfaLogin(app, secret))
  t.equal(answer.statusCode, 200)
  t.equal(answer.headers['cache-control'], 'no-store')
  const { recoveryCodes } = answer.json()
  t.equal(recoveryCodes.length, 10)
  const token = async () => (await loginRequest(app, 'alice')).json().mfa_token
  t.equal((await verifyRequest(app, { mfa_token: await token(), recovery_code: old[0] })).statusCode, 401, 'an old code')
  t.equal((await verifyRequest(app, { mfa_token: await token(), recovery_code: recoveryCodes[0] })).statusCode, 200, 'a new one')
  t.ok(app.events.some((event) => event.type === 'mfa.recovery_codes.regenerate'))
})

t.test('a user without TOTP (a session that says otp, from issue): 409', async (t) => {
  const app = await buildMfaApp(t)
  const pair = await app.jwtAuth.issue({ id: '2' }, { amr: ['pwd', 'otp'] })
  const answer = await regenerate(app, { authorization: `Bearer ${pair.accessToken}` })
  t.equal(answer.statusCode, 409)
  t.equal(answer.json().code, 'FST_JWT_AUTH_MFA_NOT_ENABLED')
})
