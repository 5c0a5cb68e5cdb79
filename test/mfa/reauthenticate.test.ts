// POST /reauthenticate { code }: the second factor's verifier, registered with the mfa option. A TOTP code or a
// recovery code proves 'otp' (after 'pwd' with the password too), spent as at login, counted by the same lockout.
import t from 'tap'
import { totpCode } from '../../lib/testing.js'
import { decodePart } from '../helpers/app.js'
import { buildMfaApp, enrol, PASSWORD, sessionOf, type MfaApp } from '../helpers/mfa-app.js'

const reauthenticate = (app: MfaApp, headers: Record<string, string>, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/auth/reauthenticate', headers, payload })

t.test('a TOTP code reauthenticates: the same session, a fresh auth_time, amr otp; the code works once', async (t) => {
  const app = await buildMfaApp(t)
  const { secret } = await enrol(app, '1')
  const session = await sessionOf(app, '1')
  const before = decodePart(session.accessToken, 1)
  const code = totpCode(secret)
  const answer = await reauthenticate(app, session.headers, { code })
  t.equal(answer.statusCode, 200)
  const claims = decodePart(answer.json().access_token, 1)
  t.equal(claims.fam, before.fam, 'the same session')
  t.same(claims.amr, ['otp'])
  t.ok(Math.abs((claims.auth_time as number) - Date.now() / 1000) < 5, 'auth_time is now')
  t.ok(app.events.some((event) => event.type === 'mfa.success'))
  const again = await reauthenticate(app, { authorization: `Bearer ${answer.json().access_token}` }, { code })
  t.equal(again.statusCode, 401)
  t.equal(again.json().code, 'FST_JWT_AUTH_INVALID_MFA_CODE')
  const both = await reauthenticate(app, { authorization: `Bearer ${answer.json().access_token}` },
    { password: PASSWORD, code: totpCode(secret, { timestamp: Date.now() + 30_000 }) })
  t.same(decodePart(both.json().access_token, 1).amr, ['pwd', 'otp'], 'password and code')
})

t.test('a recovery code reauthenticates once; wrong codes count toward the MFA lockout', async (t) => {
  const app = await buildMfaApp(t)
  const { secret, recoveryCodes } = await enrol(app, '1')
  const session = await sessionOf(app, '1')
  const used = await reauthenticate(app, session.headers, { code: recoveryCodes[0] })
  t.equal(used.statusCode, 200)
  t.same(decodePart(used.json().access_token, 1).amr, ['otp'])
  t.ok(app.events.some((event) => event.type === 'mfa.recovery_code.used'))
  const headers = { authorization: `Bearer ${used.json().access_token}` }
  t.equal((await reauthenticate(app, headers, { code: recoveryCodes[0] })).statusCode, 401, 'spent')
  const good = totpCode(secret)
  const wrong = good === '000000' ? '000001' : '000000'
  const statuses = []
  for (let i = 0; i < 4; i++) statuses.push((await reauthenticate(app, headers, { code: wrong })).statusCode)
  t.same(statuses, [401, 401, 401, 401], 'with the spent recovery code: 5 failures')
  const locked = await reauthenticate(app, headers, { code: good })
  t.equal(locked.statusCode, 429)
  t.same(app.events.filter((event) => event.type === 'reauthenticate.failure').map((event) => event.reason).at(-1), 'locked')
})

t.test('a user without TOTP: a code is a 401', async (t) => {
  const app = await buildMfaApp(t)
  const session = await sessionOf(app, '2')
  const answer = await reauthenticate(app, session.headers, { code: '123456' })
  t.equal(answer.statusCode, 401)
  t.equal(answer.json().code, 'FST_JWT_AUTH_INVALID_MFA_CODE')
})
