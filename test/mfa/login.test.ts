// The two-step login, on every store that can hold MFA state: the right password of a user with TOTP on gives an
// mfa_token, not tokens; POST /mfa/verify spends it with a code (computed here from the secret) or a recovery code.
// Attacks: replayed codes and tokens, expired tokens, another user's token or code, brute force into the lockout,
// recovery codes used twice at once, malformed bodies, a store that fails.
import t from 'tap'
import { totpCode } from '../../lib/testing.js'
import { STORE_FACTORIES, decodePart } from '../helpers/app.js'
import { fakeClock } from '../helpers/clock.js'
import { buildMfaApp, enrol, flakyStore, loginRequest, PASSWORD, verifyRequest, type MfaApp } from '../helpers/mfa-app.js'

const STORES = STORE_FACTORIES.filter((store) => store.name !== 'key-value')

async function mfaToken (app: MfaApp, username = 'alice'): Promise<string> {
  const answer = await loginRequest(app, username)
  if (answer.statusCode !== 200 || answer.json().mfa_token === undefined) throw new Error(`no mfa_token: ${answer.body}`)
  return answer.json().mfa_token
}

const types = (app: MfaApp) => app.events.map((event) => event.type)

for (const { name, create } of STORES) {
  t.test(`${name}: password, then a TOTP code: the pair, amr pwd and otp; the code and the token work once`, async (t) => {
    const store = await create()
    t.teardown(() => store.close?.())
    const app = await buildMfaApp(t, { store })
    const { secret } = await enrol(app, '1')
    app.events.length = 0

    const first = await loginRequest(app, 'alice')
    t.equal(first.statusCode, 200)
    t.equal(first.headers['cache-control'], 'no-store')
    const challenge = first.json()
    t.same(Object.keys(challenge).sort(), ['methods', 'mfa_required', 'mfa_token'], 'no tokens')
    t.equal(challenge.mfa_required, true)
    t.match(challenge.mfa_token, /^[\w-]{43}$/)
    t.same(challenge.methods, ['totp', 'recovery_code'])
    t.same(types(app), [], 'no login event before the second factor')

    const code = totpCode(secret)
    const verified = await verifyRequest(app, { mfa_token: challenge.mfa_token, code })
    t.equal(verified.statusCode, 200)
    t.equal(verified.headers['cache-control'], 'no-store')
    const claims = decodePart(verified.json().access_token, 1)
    t.same(claims.amr, ['pwd', 'otp'])
    t.ok(Math.abs((claims.auth_time as number) - Date.now() / 1000) < 5, 'auth_time is now')
    t.equal(claims.sub, '1')
    const me = await app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${verified.json().access_token}` } })
    t.equal(me.json().username, 'alice')
    t.same(types(app), ['mfa.success', 'login.success'])

    const replayedToken = await verifyRequest(app, { mfa_token: challenge.mfa_token, code: totpCode(secret, { timestamp: Date.now() + 30_000 }) })
    t.equal(replayedToken.statusCode, 401)
    t.equal(replayedToken.json().code, 'FST_JWT_AUTH_MFA_TOKEN_INVALID', 'the token was spent')
    const replayedCode = await verifyRequest(app, { mfa_token: await mfaToken(app), code })
    t.equal(replayedCode.statusCode, 401)
    t.equal(replayedCode.json().code, 'FST_JWT_AUTH_INVALID_MFA_CODE', 'the code was spent')
    const older = await verifyRequest(app, { mfa_token: await mfaToken(app), code: totpCode(secret, { timestamp: Date.now() - 30_000 }) })
    t.equal(older.statusCode, 401, 'an older step\'s code after a newer one')
    const next = await verifyRequest(app, { mfa_token: await mfaToken(app), code: totpCode(secret, { timestamp: Date.now() + 30_000 }) })
    t.equal(next.statusCode, 200, 'the next step\'s code (within the window)')
    t.equal(refreshAmr(await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: next.json().refresh_token } })), 'pwd,otp',
      'a refresh keeps amr')
  })

  t.test(`${name}: a replayed code on another instance sharing the store is refused`, async (t) => {
    const store = await create()
    t.teardown(() => store.close?.())
    const one = await buildMfaApp(t, { store })
    const other = await buildMfaApp(t, { store, factors: one.factors, records: one.records })
    const { secret } = await enrol(one, '2')
    const code = totpCode(secret)
    const [a, b] = await Promise.all([
      verifyRequest(one, { mfa_token: await mfaToken(one, 'bob'), code }),
      verifyRequest(other, { mfa_token: await mfaToken(other, 'bob'), code })
    ])
    t.same([a.statusCode, b.statusCode].sort(), [200, 401], 'the same code at once on two instances: one wins')
    t.equal((await verifyRequest(other, { mfa_token: await mfaToken(one, 'bob'), code })).statusCode, 401,
      'a token of one instance works on the other; the code is still spent')
  })
}

function refreshAmr (answer: { json: () => { access_token: string } }): string {
  return String(decodePart(answer.json().access_token, 1).amr)
}

t.test('a wrong password answers as for a user without MFA; a user without TOTP gets tokens at once', async (t) => {
  const app = await buildMfaApp(t)
  await enrol(app, '1')
  const withMfa = await loginRequest(app, 'alice', 'wrong password')
  const without = await loginRequest(app, 'bob', 'wrong password')
  t.equal(withMfa.statusCode, 401)
  t.same(withMfa.json(), without.json())
  t.same(Object.keys(withMfa.headers).sort(), Object.keys(without.headers).sort())
  const bob = await loginRequest(app, 'bob')
  t.ok(bob.json().access_token, 'bob has no TOTP: tokens')
  t.same(decodePart(bob.json().access_token, 1).amr, ['pwd'])
})

t.test('a recovery code logs in once; of two uses at once one wins; the methods say when none is left', async (t) => {
  const app = await buildMfaApp(t, { mfa: { recoveryCodes: { count: 4 } } })
  const { recoveryCodes } = await enrol(app, '1')
  app.events.length = 0
  const [first, second, third, fourth] = recoveryCodes as [string, string, string, string]
  const used = await verifyRequest(app, { mfa_token: await mfaToken(app), recovery_code: first.toUpperCase() })
  t.equal(used.statusCode, 200)
  t.same(decodePart(used.json().access_token, 1).amr, ['pwd', 'otp'])
  t.same(types(app), ['mfa.success', 'mfa.recovery_code.used', 'login.success'])
  const again = await verifyRequest(app, { mfa_token: await mfaToken(app), recovery_code: first })
  t.equal(again.statusCode, 401)
  t.equal(again.json().code, 'FST_JWT_AUTH_INVALID_MFA_CODE')
  const tokens = [await mfaToken(app), await mfaToken(app), await mfaToken(app)]
  const race = await Promise.all(tokens.map((token) => verifyRequest(app, { mfa_token: token, recovery_code: second })))
  t.same(race.map((answer) => answer.statusCode).sort(), [200, 401, 401], 'one of three concurrent uses wins')
  for (const code of [third, fourth]) t.equal((await verifyRequest(app, { mfa_token: await mfaToken(app), recovery_code: code.replace('-', '') })).statusCode, 200)
  t.same((await loginRequest(app, 'alice')).json().methods, ['totp'], 'no recovery code left')
})

t.test('another user\'s token or code, a forged or expired token: 401', async (t) => {
  const app = await buildMfaApp(t)
  const alice = await enrol(app, '1')
  const bob = await enrol(app, '2')
  const aliceToken = await mfaToken(app, 'alice')
  t.equal((await verifyRequest(app, { mfa_token: aliceToken, code: totpCode(bob.secret) })).statusCode, 401, 'bob\'s code for alice\'s token')
  t.equal((await verifyRequest(app, { mfa_token: aliceToken, recovery_code: bob.recoveryCodes[0] })).statusCode, 401, 'bob\'s recovery code')
  const bobToken = await mfaToken(app, 'bob')
  const asBob = await verifyRequest(app, { mfa_token: bobToken, code: totpCode(alice.secret) })
  t.equal(asBob.statusCode, 401, 'alice\'s code with bob\'s token')
  for (const forged of ['x'.repeat(43), 'short', aliceToken.slice(0, 42) + (aliceToken.endsWith('A') ? 'B' : 'A')]) {
    const answer = await verifyRequest(app, { mfa_token: forged, code: totpCode(alice.secret) })
    t.equal(answer.statusCode, 401, forged)
    t.equal(answer.json().code, 'FST_JWT_AUTH_MFA_TOKEN_INVALID')
  }
  t.equal((await verifyRequest(app, { mfa_token: aliceToken, code: totpCode(alice.secret) })).statusCode, 200,
    'wrong codes before the right one, within the token\'s bound')
})

t.test('an mfa_token expires after 5 minutes, and ends with a password change or revokeAll', async (t) => {
  const clock = fakeClock(t)
  const app = await buildMfaApp(t)
  const { secret } = await enrol(app, '1')
  const token = await mfaToken(app)
  clock.now += 301_000
  const expired = await verifyRequest(app, { mfa_token: token, code: totpCode(secret) })
  t.equal(expired.statusCode, 401)
  t.equal(expired.json().code, 'FST_JWT_AUTH_MFA_TOKEN_INVALID')
  const stale = await mfaToken(app)
  await app.jwtAuth.revokeAll('1')
  app.events.length = 0
  t.equal((await verifyRequest(app, { mfa_token: stale, code: totpCode(secret) })).statusCode, 401)
  t.same(app.events.map(({ type, reason }) => [type, reason]), [['mfa.failure', 'stale_token']])
})

t.test('brute force: a token takes 3 wrong codes; the account\'s MFA lockout 5, then even the right code is a 429', async (t) => {
  const app = await buildMfaApp(t)
  const { secret } = await enrol(app, '1')
  const wrong = (code: string) => code === '000000' ? '000001' : '000000'
  const good = totpCode(secret)
  const token = await mfaToken(app)
  for (let i = 0; i < 3; i++) t.equal((await verifyRequest(app, { mfa_token: token, code: wrong(good) })).statusCode, 401)
  t.equal((await verifyRequest(app, { mfa_token: token, code: good })).json().code, 'FST_JWT_AUTH_MFA_TOKEN_INVALID', 'spent by 3 failures')
  const second = await mfaToken(app)
  t.equal((await verifyRequest(app, { mfa_token: second, code: wrong(good) })).statusCode, 401)
  const fifth = await verifyRequest(app, { mfa_token: second, code: wrong(good) })
  t.equal(fifth.statusCode, 401, 'the fifth failure locks')
  t.equal(app.events.filter((event) => event.type === 'lockout').length, 1)
  const locked = await verifyRequest(app, { mfa_token: await mfaToken(app), code: good })
  t.equal(locked.statusCode, 429)
  t.equal(locked.json().code, 'FST_JWT_AUTH_ACCOUNT_LOCKED')
  t.ok(Number(locked.headers['retry-after']) > 0)
  t.equal(app.events.at(-1)?.reason, 'locked')
  t.equal((await loginRequest(app, 'alice')).statusCode, 200, 'the password lockout is another one: the password still works')
  t.equal((await loginRequest(app, 'bob')).json().token_type, 'Bearer', 'other accounts are not locked')
})

t.test('malformed bodies: 400 before anything is counted or spent', async (t) => {
  const app = await buildMfaApp(t)
  const { secret } = await enrol(app, '1')
  const token = await mfaToken(app)
  const code = totpCode(secret)
  const bodies: unknown[] = [
    {}, { mfa_token: token }, { code }, { mfa_token: token, code, recovery_code: 'abcde-fghjk' },
    { mfa_token: token, code: '12345' }, { mfa_token: token, code: 'abcdef' }, { mfa_token: token, recovery_code: 'short' },
    { mfa_token: token, recovery_code: '<script>alert(1)</script>' }, { mfa_token: '', code }, { mfa_token: 'x'.repeat(200), code },
    { mfa_token: token, recovery_code: 'x'.repeat(40) }, { mfa_token: { $ne: null }, code }, 'mfa_token', null
  ]
  for (const payload of bodies) {
    const answer = await app.inject({ method: 'POST', url: '/auth/mfa/verify', payload: payload as string, headers: { 'content-type': 'application/json' } })
    t.equal(answer.statusCode, 400, JSON.stringify(payload))
  }
  t.equal((await verifyRequest(app, { mfa_token: token, code })).statusCode, 200, 'the token was not spent by them')
})

t.test('a failing store is a 503: at the login (the attempt), at the verification', async (t) => {
  const store = flakyStore()
  t.teardown(() => store.close())
  const app = await buildMfaApp(t, { store })
  const { secret } = await enrol(app, '1')
  store.failing.add('challenges.put')
  t.equal((await loginRequest(app, 'alice')).statusCode, 503)
  store.failing.clear()
  for (const method of ['challenges.take', 'locks.lockedUntil', 'counters.increment', 'revocations.read']) {
    const token = await mfaToken(app)
    store.failing.add(method)
    t.equal((await verifyRequest(app, { mfa_token: token, code: totpCode(secret) })).statusCode, 503, method)
    store.failing.delete(method)
  }
})

t.test('cookies: the second step sets the cookies and answers the CSRF token', async (t) => {
  const app = await buildMfaApp(t, { options: { cookies: { secure: false, accessToken: true } } })
  const { secret } = await enrol(app, '1')
  const verified = await verifyRequest(app, { mfa_token: await mfaToken(app), code: totpCode(secret) })
  t.equal(verified.statusCode, 200)
  const names = verified.cookies.map((cookie) => cookie.name).sort()
  t.same(names, ['access_token', 'csrf_token', 'refresh_token'])
  t.notOk(verified.json().refresh_token, 'the refresh token only in its cookie')
  const access = verified.cookies.find((cookie) => cookie.name === 'access_token')!.value
  const me = await app.inject({ url: '/auth/me', cookies: { access_token: access } })
  t.equal(me.json().username, 'alice')
  const logout = await app.inject({ method: 'POST', url: '/auth/logout', cookies: { access_token: access }, headers: { 'x-csrf-token': verified.json().csrf_token } })
  t.equal(logout.statusCode, 204, 'the session is bound to its CSRF token')
})

t.test('key rotation: a secret under an older key logs in and moves to the first key; a retired key\'s does not', async (t) => {
  const records = undefined
  const app = await buildMfaApp(t)
  const { secret } = await enrol(app, '1')
  t.match(app.factors.get('1')!.totp, /^v1\.default\./)
  const rotated = await buildMfaApp(t, {
    factors: app.factors,
    records,
    mfa: { encryptionKey: [{ id: 'next', key: 'n'.repeat(32) }, { id: 'default', key: 'an-mfa-encryption-key-of-32-bytes!!' }] }
  })
  t.equal((await verifyRequest(rotated, { mfa_token: await mfaToken(rotated), code: totpCode(secret) })).statusCode, 200)
  t.match(app.factors.get('1')!.totp, /^v1\.next\./, 'sealed again under the first key')
  const logs: string[] = []
  const retired = await buildMfaApp(t, {
    factors: app.factors,
    mfa: { encryptionKey: 'o'.repeat(32) },
    logger: { level: 'warn', stream: { write: (line: string) => { logs.push(line) } } }
  })
  const answer = await verifyRequest(retired, { mfa_token: await mfaToken(retired), code: totpCode(secret, { timestamp: Date.now() + 30_000 }) })
  t.equal(answer.statusCode, 401)
  t.match(logs.join(''), /a TOTP secret does not open with mfa\.encryptionKey/)
  t.notOk(logs.join('').includes(secret))
})

t.test('a secret sealed again but not stored (updateTotp fails): the login goes on, a warning is logged', async (t) => {
  const logs: string[] = []
  const app = await buildMfaApp(t)
  const { secret } = await enrol(app, '1')
  const rotated = await buildMfaApp(t, {
    factors: app.factors,
    mfa: { encryptionKey: [{ id: 'next', key: 'n'.repeat(32) }, { id: 'default', key: 'an-mfa-encryption-key-of-32-bytes!!' }] },
    users: (users) => ({ ...users, updateTotp: async () => { throw new Error('read-only replica') } }),
    logger: { level: 'warn', stream: { write: (line: string) => { logs.push(line) } } }
  })
  t.equal((await verifyRequest(rotated, { mfa_token: await mfaToken(rotated), code: totpCode(secret) })).statusCode, 200)
  t.match(logs.join(''), /could not store the TOTP secret under the new key/)
  t.match(app.factors.get('1')!.totp, /^v1\.default\./)
})

t.test('TOTP turned off, or the user gone, between the password and the code: no tokens', async (t) => {
  const app = await buildMfaApp(t)
  const { secret } = await enrol(app, '1')
  const token = await mfaToken(app)
  await app.jwtAuth.mfa.disable('1')
  t.equal((await verifyRequest(app, { mfa_token: token, code: totpCode(secret) })).statusCode, 401)
  const bob = await enrol(app, '2')
  const bobToken = await mfaToken(app, 'bob')
  app.records.splice(1, 1)
  const gone = await verifyRequest(app, { mfa_token: bobToken, code: totpCode(bob.secret) })
  t.equal(gone.statusCode, 401)
  t.equal(gone.json().code, 'FST_JWT_AUTH_MFA_TOKEN_INVALID')
})

t.test('Swagger UI\'s password flow cannot do the second step: 403 for a user with TOTP', async (t) => {
  const app = await buildMfaApp(t, { routes: { swaggerLogin: true } })
  await enrol(app, '1')
  const answer = await app.inject({ method: 'POST', url: '/auth/swagger-login', payload: `username=alice&password=${encodeURIComponent(PASSWORD)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(answer.statusCode, 403)
  t.equal(answer.json().code, 'FST_JWT_AUTH_MFA_REQUIRED')
})

t.test('the API for a login route of the app\'s own: begin, then verify', async (t) => {
  const app = await buildMfaApp(t)
  const { secret, recoveryCodes } = await enrol(app, '1')
  t.equal(await app.jwtAuth.mfa.begin({ id: '2' }), null, 'no TOTP: null, issue tokens')
  const challenge = await app.jwtAuth.mfa.begin({ id: 1 }, { ip: '10.0.0.2' })
  t.same(challenge?.methods, ['totp', 'recovery_code'])
  const pair = await app.jwtAuth.mfa.verify(challenge!.mfaToken, { code: totpCode(secret) })
  t.same(decodePart(pair.accessToken, 1).amr, ['pwd', 'otp'])
  const next = await app.jwtAuth.mfa.begin({ id: 1 })
  t.ok((await app.jwtAuth.mfa.verify(next!.mfaToken, { recoveryCode: recoveryCodes[0]! }, { ip: '10.0.0.3' })).accessToken)
  await t.rejects(app.jwtAuth.mfa.verify(next!.mfaToken, { code: '123456' }), { code: 'FST_JWT_AUTH_MFA_TOKEN_INVALID' })
})

t.test('no code, secret or token in events or logs', async (t) => {
  const logs: string[] = []
  const app = await buildMfaApp(t, { logger: { level: 'trace', stream: { write: (line: string) => { logs.push(line) } } } })
  const { secret, recoveryCodes } = await enrol(app, '1')
  const token = await mfaToken(app)
  const code = totpCode(secret)
  await verifyRequest(app, { mfa_token: token, code: code === '000000' ? '000001' : '000000' })
  await verifyRequest(app, { mfa_token: token, code })
  await verifyRequest(app, { mfa_token: await mfaToken(app), recovery_code: recoveryCodes[0] })
  const seen = JSON.stringify(app.events) + logs.join('')
  for (const value of [secret, token, code, recoveryCodes[0]!, recoveryCodes[0]!.replace('-', '')]) {
    t.notOk(seen.includes(value), 'not in events or logs')
  }
  t.ok(app.events.some((event) => event.type === 'mfa.failure'))
})

t.test('the password changed while the login checked it: no mfa_token for the old one', async (t) => {
  let lookups = 0
  const app = await buildMfaApp(t, {
    users: (users) => ({
      ...users,
      // The second lookup of a login (its re-read after the check) sees a new hash.
      findByLogin: async (login: string) => {
        const user = await users.findByLogin(login)
        return ++lookups % 2 === 0 && user != null ? { ...user, passwordHash: `${user.passwordHash}x` } : user
      }
    })
  })
  await enrol(app, '1')
  const answer = await loginRequest(app, 'alice')
  t.equal(answer.statusCode, 401)
  t.equal(answer.json().code, 'FST_JWT_AUTH_INVALID_CREDENTIALS')
  t.same(app.events.filter((event) => event.type === 'login.failure').map((event) => event.reason), ['wrong_password'])
})

t.test('brute force across instances: wrong codes on two instances sharing the store count toward one lockout', async (t) => {
  const store = (await import('../../lib/index.js')).memoryStore()
  t.teardown(() => store.close())
  const one = await buildMfaApp(t, { store })
  const other = await buildMfaApp(t, { store, factors: one.factors, records: one.records })
  const { secret } = await enrol(one, '1')
  const good = totpCode(secret)
  const wrong = good === '000000' ? '000001' : '000000'
  const statuses = []
  for (let i = 0; i < 5; i++) {
    const app = i % 2 === 0 ? one : other
    statuses.push((await verifyRequest(app, { mfa_token: await mfaToken(app), code: wrong })).statusCode)
  }
  t.same(statuses, [401, 401, 401, 401, 401])
  t.equal((await verifyRequest(other, { mfa_token: await mfaToken(one), code: good })).statusCode, 429, 'locked everywhere')
})
