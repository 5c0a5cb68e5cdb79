// A passkey as the second factor of the two-step login (issue 23): POST /login gives the mfa_token (methods with
// passkey), POST /mfa/passkey/options its user's request options, POST /mfa/verify { mfa_token, passkey } the pair
// (amr pwd, hwk, user). Another user's passkey, a login challenge, a forged assertion: 401, counted as a wrong proof.
import t, { type Test } from 'tap'
import { enrol, flakyStore, loginRequest } from '../helpers/mfa-app.js'
import { buildPasskeyApp, claimsOf, post, registerPasskey, requestOptions, type PasskeyApp } from '../helpers/passkey-app.js'
import { FLAGS } from '../helpers/webauthn.js'

async function mfaTokenOf (t: Test, app: PasskeyApp, username = 'alice'): Promise<string> {
  const reply = await loginRequest(app, username)
  t.equal(reply.statusCode, 200)
  return reply.json().mfa_token as string
}

const passkeyOptions = (app: PasskeyApp, token: unknown) => post(app, '/mfa/passkey/options', { mfa_token: token })
const verify = (app: PasskeyApp, payload: Record<string, unknown>) => post(app, '/mfa/verify', payload)

t.test('the mfa_token completed with a passkey: amr pwd, hwk, user; the token is spent', async (t) => {
  const app = await buildPasskeyApp(t, { mfa: true })
  await enrol(app, '1')
  const withoutPasskey = await loginRequest(app, 'alice')
  t.same(withoutPasskey.json().methods, ['totp', 'recovery_code'], 'no passkey yet: not offered')
  const { authenticator, passkey } = await registerPasskey(app, '1')
  const login = await loginRequest(app, 'alice')
  t.same(login.json().methods, ['totp', 'recovery_code', 'passkey'])
  const token = login.json().mfa_token as string
  const options = await passkeyOptions(app, token)
  t.equal(options.statusCode, 200, options.body)
  t.same(options.json().allowCredentials.map((one: { id: string }) => one.id), [passkey.id], 'the user\'s passkeys')
  const reply = await verify(app, { mfa_token: token, passkey: authenticator.login(options.json()) })
  t.equal(reply.statusCode, 200, reply.body)
  t.same(claimsOf(reply.json().access_token).amr, ['pwd', 'hwk', 'user'])
  t.match(app.events.filter((event) => event.type.startsWith('mfa.') || event.type === 'login.success').slice(-2),
    [{ type: 'mfa.success', userId: '1' }, { type: 'login.success', userId: '1' }])
  const again = await verify(app, { mfa_token: token, passkey: authenticator.login(options.json()) })
  t.equal(again.statusCode, 401, 'the mfa_token is spent')

  // Without user verification: pwd and hwk.
  const next = await mfaTokenOf(t, app)
  const plain = await verify(app, {
    mfa_token: next, passkey: authenticator.login((await passkeyOptions(app, next)).json(), undefined, { flags: FLAGS.UP })
  })
  t.same(claimsOf(plain.json().access_token).amr, ['pwd', 'hwk'])
})

t.test('hostile: another user\'s passkey or challenge, a login challenge, a forged assertion, a bad token', async (t) => {
  const app = await buildPasskeyApp(t, { mfa: true })
  await enrol(app, '1')
  await enrol(app, '2')
  const alice = await registerPasskey(app, '1')
  const bob = await registerPasskey(app, '2')
  const refused = async (payload: Record<string, unknown>, reason: string) => {
    const events = app.events.length
    const reply = await verify(app, payload)
    t.equal(reply.statusCode, 401, reply.body)
    t.notMatch(reply.body, /access_token/)
    t.match(app.events.slice(events), [{ type: 'mfa.failure', userId: '1', reason }])
  }
  let token = await mfaTokenOf(t, app)
  await refused({ mfa_token: token, passkey: bob.authenticator.login((await passkeyOptions(app, token)).json()) },
    'passkey_other_user')
  await refused({ mfa_token: token, passkey: alice.authenticator.login(await requestOptions(app)) }, 'passkey_challenge')
  const bobsToken = await mfaTokenOf(t, app, 'bob')
  await refused({ mfa_token: token, passkey: alice.authenticator.login((await passkeyOptions(app, bobsToken)).json()) },
    'passkey_challenge')
  token = await mfaTokenOf(t, app)
  await refused({
    mfa_token: token,
    passkey: alice.authenticator.login((await passkeyOptions(app, token)).json(), undefined, { origin: 'https://evil.test' })
  }, 'passkey_invalid')
  token = await mfaTokenOf(t, app)
  const loginChallenge = await requestOptions(app, 'alice')
  const viaLogin = await post(app, '/passkeys/login/verify', { response: alice.authenticator.login((await passkeyOptions(app, token)).json()) })
  t.equal(viaLogin.statusCode, 401, 'a second step\'s challenge does not log in alone')
  t.ok(loginChallenge.challenge)

  for (const bad of ['', 'x'.repeat(43), 'not a token']) {
    const reply = await passkeyOptions(app, bad)
    t.equal(reply.statusCode, bad === '' ? 400 : 401, `mfa_token ${JSON.stringify(bad)}`)
  }
  const both = await verify(app, { mfa_token: token, code: '123456', passkey: alice.authenticator.login(loginChallenge) })
  t.equal(both.statusCode, 400, 'a code and a passkey at once')
  const malformed = await verify(app, { mfa_token: token, passkey: { id: 'x' } })
  t.equal(malformed.statusCode, 400, 'a malformed assertion')
})

t.test('a user with TOTP but no passkeys option: a passkey proof is a wrong proof', async (t) => {
  const { buildMfaApp } = await import('../helpers/mfa-app.js')
  const app = await buildMfaApp(t)
  await enrol(app, '1')
  const token = (await loginRequest(app, 'alice')).json().mfa_token
  const reply = await verify(app as never, {
    mfa_token: token,
    passkey: { id: 'YQ', rawId: 'YQ', type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 'YQ', signature: 'YQ' } }
  })
  t.equal(reply.statusCode, 401)
  t.match(app.events.at(-1), { type: 'mfa.failure', reason: 'wrong_passkey' })
  t.equal((await post(app as never, '/mfa/passkey/options', { mfa_token: token })).statusCode, 404, 'no options route')
})

t.test('a failing store: 503', async (t) => {
  const store = flakyStore()
  const app = await buildPasskeyApp(t, { mfa: true, store })
  await enrol(app, '1')
  await registerPasskey(app, '1')
  const token = await mfaTokenOf(t, app)
  store.failing.add('challenges.put')
  t.equal((await passkeyOptions(app, token)).statusCode, 503)
})

t.test('app.jwtAuth.mfa.verify takes a passkey too', async (t) => {
  const app = await buildPasskeyApp(t, { mfa: true })
  await enrol(app, '1')
  const { authenticator } = await registerPasskey(app, '1')
  const token = await mfaTokenOf(t, app)
  const pair = await app.jwtAuth.mfa.verify(token, { passkey: authenticator.login((await passkeyOptions(app, token)).json()) })
  t.same(claimsOf(pair.accessToken).amr, ['pwd', 'hwk', 'user'])
})

t.test('TOTP turned off meanwhile: the passkey is a wrong proof; an adapter failing: its error passes', async (t) => {
  let failing = false
  const app = await buildPasskeyApp(t, {
    mfa: true,
    users: (users) => ({
      ...users,
      findPasskey: async (id: string) => { if (failing) throw new Error('database down'); return await users.findPasskey(id) }
    })
  })
  await enrol(app, '1')
  const { authenticator } = await registerPasskey(app, '1')
  let token = await mfaTokenOf(t, app)
  let options = (await passkeyOptions(app, token)).json()
  await app.jwtAuth.mfa.disable('1')
  const off = await verify(app, { mfa_token: token, passkey: authenticator.login(options) })
  t.equal(off.statusCode, 401)
  t.match(app.events.at(-1), { type: 'mfa.failure', reason: 'wrong_passkey' })
  await enrol(app, '2')
  const bob = await registerPasskey(app, '2')
  token = await mfaTokenOf(t, app, 'bob')
  options = (await passkeyOptions(app, token)).json()
  failing = true
  const down = await verify(app, { mfa_token: token, passkey: bob.authenticator.login(options) })
  t.equal(down.statusCode, 500)
  t.notMatch(down.body, /access_token/)
})

t.test('mfa.required: a passkey login without user verification is kept to the setup, as a password login is; ' +
  'with it (the key and a PIN or biometrics: two factors), it is not', async (t) => {
  const { MFA_KEY } = await import('../helpers/mfa-app.js')
  const app = await buildPasskeyApp(t, { mfa: true, options: { mfa: { encryptionKey: MFA_KEY, required: true } } })
  const { authenticator } = await registerPasskey(app, '1')
  const presence = { flags: FLAGS.UP | FLAGS.BE | FLAGS.BS }
  const reply = await post(app, '/passkeys/login/verify', { response: authenticator.login(await requestOptions(app), undefined, presence) })
  t.equal(reply.statusCode, 200, reply.body)
  t.same(claimsOf(reply.json().access_token).amr, ['hwk'])
  const headers = { authorization: `Bearer ${reply.json().access_token}` }
  t.equal((await post(app, '/mfa/totp/setup', undefined, headers)).statusCode, 200, 'the setup is open')
  const list = await app.inject({ url: '/auth/passkeys', headers })
  t.equal(list.statusCode, 403)
  t.equal(list.json().code, 'FST_JWT_AUTH_MFA_SETUP_REQUIRED')

  const verified = await post(app, '/passkeys/login/verify', { response: authenticator.login(await requestOptions(app)) })
  t.same(claimsOf(verified.json().access_token).amr, ['hwk', 'user'])
  const full = { authorization: `Bearer ${verified.json().access_token}` }
  t.equal((await app.inject({ url: '/auth/passkeys', headers: full })).statusCode, 200, 'a verified user reaches every route')
})
