// Tokens carry how and when their session authenticated (amr, auth_time, acr), and a refresh keeps them.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { resolveOptions } from '../lib/config/options.js'
import { memoryStore } from '../lib/index.js'
import { ACCESS_HEADER, accessClaims, bearer, buildApp, craftToken, decodePart, REFRESH_HEADER, SECRET, STORE_FACTORIES } from './helpers/app.js'
import { fakeClock } from './helpers/clock.js'
import { buildRoutesApp, PASSWORDS, seedUsers } from './helpers/routes-app.js'

const ACR = [{ value: 'mfa', amr: ['pwd', 'otp'] }, { value: 'pwd', amr: ['pwd'] }]
const seconds = (): number => Math.floor(Date.now() / 1000)
const claimsOf = (token: string) => decodePart(token, 1)

const users = await seedUsers()

for (const { name, create } of STORE_FACTORIES) {
  t.test(`a refresh keeps the session's amr, auth_time and acr (${name} store)`, async (t) => {
    const clock = fakeClock(t)
    const store = await create()
    t.teardown(() => store.close?.())
    // A key-value store without increment cannot count failed logins: no lockout here (its own tests cover it).
    const app = await buildRoutesApp({ users, routes: { captcha: false, lockout: false }, options: { store, rateLimit: false, acr: ACR, refreshGrace: '10s' } })
    t.teardown(() => app.close())

    const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'alice', password: PASSWORDS.alice } })
    t.equal(login.statusCode, 200)
    const first = login.json()
    const loggedInAt = seconds()
    t.match(claimsOf(first.access_token), { amr: ['pwd'], auth_time: loggedInAt, acr: 'pwd' }, 'a password login: pwd, now, the pwd level')
    t.notOk('amr' in claimsOf(first.refresh_token), 'the refresh token carries none: its record keeps them')

    clock.now += 120_000
    const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: first.refresh_token } })
    t.equal(refreshed.statusCode, 200)
    const second = refreshed.json()
    const claims = claimsOf(second.access_token)
    t.equal(claims.iat, seconds(), 'a new token...')
    t.match(claims, { amr: ['pwd'], auth_time: loggedInAt, acr: 'pwd' }, '...of the same authentication: auth_time did not move')

    // Within the grace window the spent token gets the same successor, re-signed: the same claims.
    const retried = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: first.refresh_token } })
    t.equal(retried.statusCode, 200)
    t.match(claimsOf(retried.json().access_token), { amr: ['pwd'], auth_time: loggedInAt, acr: 'pwd' })

    clock.now += 600_000
    const third = (await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: second.refresh_token } })).json()
    t.match(claimsOf(third.access_token), { amr: ['pwd'], auth_time: loggedInAt, acr: 'pwd' }, 'and through every rotation')
    const me = await app.inject({ url: '/auth/me', headers: bearer(third.access_token) })
    t.equal(me.statusCode, 200)
  })
}

t.test('issue: no authentication claims by default; amr, authTime and the acr they give when told', async (t) => {
  const app = await buildApp(undefined, { options: { acr: ACR } })
  t.teardown(() => app.close())
  const plain = claimsOf((await app.jwtAuth.issue({ id: 1 })).accessToken)
  t.notOk('auth_time' in plain, 'nothing told, no auth_time: a pair minted for another reason is no fresh login')
  t.notOk('amr' in plain)
  t.equal(claimsOf((await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd'] })).accessToken).auth_time, seconds(),
    'amr alone: authenticated now')
  t.notOk('acr' in plain, 'no proof, no level')

  const at = new Date(Date.now() - 3_600_000)
  const mfa = claimsOf((await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd', 'otp', 'pwd'], authTime: at })).accessToken)
  t.same(mfa.amr, ['pwd', 'otp'], 'each method once')
  t.equal(mfa.auth_time, Math.floor(at.getTime() / 1000))
  t.equal(mfa.acr, 'mfa', 'the strongest level whose methods were all used')
  t.equal(claimsOf((await app.jwtAuth.issue({ id: 1 }, { amr: ['otp'] })).accessToken).acr, undefined, 'otp alone is no level here')
  t.notOk('amr' in claimsOf((await app.jwtAuth.issue({ id: 1 }, { amr: [] })).accessToken))

  const refreshed = await app.jwtAuth.refresh((await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd', 'otp'], authTime: at })).refreshToken)
  t.match(claimsOf(refreshed.accessToken), { amr: ['pwd', 'otp'], auth_time: Math.floor(at.getTime() / 1000), acr: 'mfa' })

  const response = await app.inject({ url: '/me', headers: bearer((await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd'] })).accessToken) })
  t.match(response.json().claims, { amr: ['pwd'], acr: 'pwd' }, 'request.auth.claims has them')
})

t.test('issue refuses the authentication claims given as claims, and bad amr or authTime', async (t) => {
  const app = await buildApp(undefined)
  t.teardown(() => app.close())
  await t.rejects(app.jwtAuth.issue({ id: 1 }, { claims: { amr: ['hwk'] } }), /the amr claim is set by the plugin and cannot be given \(give options\.amr\)/)
  await t.rejects(app.jwtAuth.issue({ id: 1 }, { claims: { auth_time: 1 } }), /auth_time claim .* \(give options\.authTime\)/)
  await t.rejects(app.jwtAuth.issue({ id: 1 }, { claims: { acr: 'mfa' } }), /acr claim .* follows from options\.amr and the acr option/)
  await t.rejects(app.jwtAuth.issue({ id: 1 }, { claims: { jti: 'x' } }), /the jti claim is set by the plugin and cannot be given$/)
  // The provider of a session a provider's sign-in began: an app's issue() cannot pass one off as such a session.
  await t.rejects(app.jwtAuth.issue({ id: 1 }, { claims: { idp: 'google' } }),
    /the idp claim is set by the plugin and cannot be given \(a sign-in with a provider sets it\)$/)
  for (const amr of ['pwd', [1], ['two words'], ['']]) {
    await t.rejects(app.jwtAuth.issue({ id: 1 }, { amr: amr as string[] }), /options\.amr must be an array of RFC 8176 method names/)
  }
  for (const authTime of [new Date(Date.now() + 60_000), new Date(NaN), 1700000000 as unknown as Date]) {
    await t.rejects(app.jwtAuth.issue({ id: 1 }, { authTime }), /options\.authTime must be a valid Date, not in the future/)
  }
  const tolerant = await buildApp(undefined, { options: { clockTolerance: 120 } })
  t.teardown(() => tolerant.close())
  const soon = new Date(Date.now() + 60_000)
  t.equal(claimsOf((await tolerant.jwtAuth.issue({ id: 1 }, { authTime: soon })).accessToken).auth_time, Math.floor(soon.getTime() / 1000), 'within clockTolerance')
})

t.test('register gives its session a password proof; password change keeps the session\'s proofs', async (t) => {
  const own = await seedUsers()
  const app = await buildRoutesApp({ users: own, create: true, routes: { captcha: false }, options: { rateLimit: false, acr: ACR } })
  t.teardown(() => app.close())
  const registered = await app.inject({ method: 'POST', url: '/auth/register', payload: { username: 'carol', password: 'carol-password-1' } })
  t.equal(registered.statusCode, 201)
  t.match(claimsOf(registered.json().access_token), { amr: ['pwd'], auth_time: seconds(), acr: 'pwd' })

  // A token of an earlier version has none: none are made up.
  const old = craftToken(ACCESS_HEADER, { sub: '1', jti: randomUUID(), fam: randomUUID(), iat: seconds(), exp: seconds() + 600 })
  const fromOld = await app.inject({
    method: 'POST',
    url: '/auth/password/change',
    headers: bearer(old),
    payload: { currentPassword: PASSWORDS.alice, newPassword: 'a-new-password-1' }
  })
  t.equal(fromOld.statusCode, 200)
  const fromOldClaims = claimsOf(fromOld.json().access_token)
  t.notOk('auth_time' in fromOldClaims)
  t.notOk('amr' in fromOldClaims)

  const clock = fakeClock(t)
  const at = new Date(Date.now() - 600_000)
  const session = await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd', 'otp'], authTime: at, claims: { tenant: 't1' } })
  clock.now += 5_000
  const changed = await app.inject({
    method: 'POST',
    url: '/auth/password/change',
    headers: bearer(session.accessToken),
    payload: { currentPassword: 'a-new-password-1', newPassword: 'a-newer-password-2' }
  })
  t.equal(changed.statusCode, 200)
  const claims = claimsOf(changed.json().access_token)
  t.match(claims, { amr: ['pwd', 'otp'], auth_time: Math.floor(at.getTime() / 1000), acr: 'mfa', tenant: 't1' }, 'as they were, not refreshed')
  t.equal(claims.fam, claimsOf(session.accessToken).fam, 'the same session')

  // A session of issue() without amr: its auth_time goes on, and still no amr.
  const plain = await app.jwtAuth.issue({ id: 1 }, { authTime: at })
  const plainChanged = await app.inject({
    method: 'POST',
    url: '/auth/password/change',
    headers: bearer(plain.accessToken),
    payload: { currentPassword: 'a-newer-password-2', newPassword: 'a-newer-password-3' }
  })
  t.equal(plainChanged.statusCode, 200)
  t.equal(claimsOf(plainChanged.json().access_token).auth_time, Math.floor(at.getTime() / 1000))
  t.notOk('amr' in claimsOf(plainChanged.json().access_token))

  // changePassword through the API does not know how the kept session authenticated: none either.
  const kept = await app.jwtAuth.issue({ id: 1 })
  const pair = await app.jwtAuth.changePassword(1, 'the-newest-password-3', { keepFamilyId: claimsOf(kept.accessToken).fam as string })
  t.notOk('auth_time' in claimsOf(pair.accessToken))
})

t.test('tokens and refresh records without the claims (earlier versions) keep working', async (t) => {
  const store = memoryStore()
  const app = await buildApp(store, { options: { acr: ACR } })
  t.teardown(() => app.close())
  t.teardown(() => store.close())
  const old = craftToken(ACCESS_HEADER, accessClaims({ jti: randomUUID() }))
  const response = await app.inject({ url: '/me', headers: bearer(old) })
  t.equal(response.statusCode, 200)
  t.notOk('auth_time' in response.json().claims)

  // A refresh record written before the claims existed: its successors have none.
  const fam = randomUUID()
  const jti = randomUUID()
  await store.refreshTokens.create(fam, jti, JSON.stringify({ sub: '1', fam, createdAt: Date.now() }), 3600)
  const refreshToken = craftToken(REFRESH_HEADER, { sub: '1', jti, fam, iat: seconds(), exp: seconds() + 3600, iss: 'test-api', aud: 'test-app' })
  const pair = await app.jwtAuth.refresh(refreshToken)
  const claims = claimsOf(pair.accessToken)
  t.equal(claims.fam, fam)
  t.notOk('auth_time' in claims)
  t.notOk('amr' in claims)
  t.equal((await app.inject({ url: '/me', headers: bearer(pair.accessToken) })).statusCode, 200)
})

t.test('the acr option is checked at register, naming the entry', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [[], /acr must be a non-empty array of levels, strongest first/],
    [{ mfa: ['otp'] }, /acr must be a non-empty array of levels/],
    [['mfa'], /acr\[0\] must be \{ value, amr \}/],
    [[{ value: 'mfa', amr: ['otp'], level: 2 }], /unknown option acr\[0\]\.level/],
    [[{ value: 'two words', amr: ['otp'] }], /acr\[0\]\.value must be a non-empty string without spaces/],
    [[{ value: '', amr: ['otp'] }], /acr\[0\]\.value must be a non-empty string/],
    [[{ value: 'mfa', amr: [] }], /acr\[0\]\.amr must be a non-empty array of RFC 8176 values/],
    [[{ value: 'mfa', amr: 'otp' }], /acr\[0\]\.amr must be a non-empty array/],
    [[{ value: 'mfa', amr: ['opt'] }], /acr\[0\]\.amr: "opt" is not an RFC 8176 value \(one of face, fpt/],
    [[{ value: 'a', amr: ['otp'] }, { value: 'b', amr: ['pwd'] }, { value: 'a', amr: ['hwk'] }], /acr\[2\]\.value repeats acr\[0\]\.value \(a\) after another level/]
  ]
  for (const [acr, message] of cases) {
    t.throws(() => resolveOptions({ secret: SECRET, acr } as never), { code: 'FST_JWT_AUTH_INVALID_OPTION', message }, JSON.stringify(acr))
  }
  // One level reached in several ways: adjacent entries of one value.
  const app = await buildApp(undefined, { options: { acr: [{ value: 'mfa', amr: ['pwd', 'otp'] }, { value: 'mfa', amr: ['hwk'] }, { value: 'mfa', amr: ['swk', 'user'] }, { value: 'pwd', amr: ['pwd'] }] } })
  t.teardown(() => app.close())
  t.equal(claimsOf((await app.jwtAuth.issue({ id: 1 }, { amr: ['hwk'] })).accessToken).acr, 'mfa')
  t.equal(claimsOf((await app.jwtAuth.issue({ id: 1 }, { amr: ['pwd'] })).accessToken).acr, 'pwd')
})
