// Hostile passkey ceremonies (issue 23), with a software authenticator that forges one part each: every one refused
// with a 4xx and no session (no token, no passkey stored, no success event); a failing store is a 503.
import t, { type Test } from 'tap'
import { fakeClock } from '../helpers/clock.js'
import { flakyStore } from '../helpers/mfa-app.js'
import {
  bearerOf, buildPasskeyApp, creationOptions, ORIGIN, post, registerPasskey, requestOptions, RP_ID, type PasskeyApp
} from '../helpers/passkey-app.js'
import { cbor, FLAGS, SoftAuthenticator, type Forge } from '../helpers/webauthn.js'

const soft = () => new SoftAuthenticator({ rpID: RP_ID, origin: ORIGIN })

/** A refused registration: a 4xx, nothing stored, no event. */
async function refusedRegistration (t: Test, app: PasskeyApp, payload: unknown, headers: { authorization: string }, status = 400) {
  const before = app.tables.passkeys.size
  const events = app.events.length
  const reply = await post(app, '/passkeys/register/verify', payload, headers)
  t.equal(reply.statusCode, status, reply.body)
  t.equal(app.tables.passkeys.size, before, 'nothing stored')
  t.notOk(app.events.slice(events).some((event) => event.type === 'passkey.register'), 'no register event')
  return reply
}

/** A refused login: a 4xx, no token, no session, the failure event (when the body got past the schema). */
async function refusedLogin (t: Test, app: PasskeyApp, payload: unknown, reason?: string, status = 401) {
  const events = app.events.length
  const sessions = (await app.jwtAuth.sessions('1')).length
  const reply = await post(app, '/passkeys/login/verify', payload)
  t.equal(reply.statusCode, status, reply.body)
  t.notMatch(reply.body, /access_token|refresh_token/, 'no token')
  t.notOk(app.events.slice(events).some((event) => event.type === 'passkey.login.success'), 'no success event')
  if (status === 401) t.equal(reply.json().code, 'FST_JWT_AUTH_PASSKEY_LOGIN_FAILED', 'one answer for every failure')
  if (reason !== undefined) t.match(app.events.at(-1), { type: 'passkey.login.failure', reason })
  t.equal((await app.jwtAuth.sessions('1')).length, sessions, 'no new session of alice')
  return reply
}

t.test('registration: wrong origin, rpID, type, user verification, challenge of another user or ceremony', async (t) => {
  const app = await buildPasskeyApp(t, { passkeys: { userVerification: 'required' } })
  const alice = await bearerOf(app, '1')
  const forged: Array<[string, Forge]> = [
    ['another origin', { origin: 'https://evil.test' }],
    ['a sibling origin not listed', { origin: 'https://other.example.test' }],
    ['another rpID\'s hash', { rpID: 'evil.test' }],
    ['a get ceremony\'s client data', { type: 'webauthn.get' }],
    ['no user verification, required', { flags: FLAGS.UP | FLAGS.AT }],
    ['no user presence', { flags: FLAGS.UV | FLAGS.AT }],
    ['another challenge', { challenge: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }],
    ['malformed CBOR', { attestationObject: Buffer.from([0xa3, 0x63, 0x66, 0x6d]) }],
    ['CBOR of another shape', { attestationObject: cbor({ fmt: 'none', attStmt: {}, authData: Buffer.alloc(10) }) }],
    ['an attestation format it cannot verify', { attestationObject: cbor({ fmt: 'packed', attStmt: {}, authData: Buffer.alloc(37) }) }]
  ]
  for (const [what, forge] of forged) {
    t.test(what, async (t) => {
      const response = soft().register(await creationOptions(app, alice), forge)
      const reply = await refusedRegistration(t, app, { response }, alice)
      t.equal(reply.json().code, 'FST_JWT_AUTH_PASSKEY_INVALID')
    })
  }

  t.test('the challenge of another user, and of a login', async (t) => {
    const bobs = await creationOptions(app, await bearerOf(app, '2'))
    await refusedRegistration(t, app, { response: soft().register(bobs) }, alice)
    const login = await requestOptions(app)
    await refusedRegistration(t, app, { response: soft().register({ challenge: login.challenge, user: bobs.user }) }, alice)
  })

  t.test('a replayed registration; a response without client data that could be one', async (t) => {
    const response = soft().register(await creationOptions(app, alice))
    t.equal((await post(app, '/passkeys/register/verify', { response }, alice)).statusCode, 201)
    await refusedRegistration(t, app, { response }, alice)
    const garbled = { ...response, response: { ...response.response, clientDataJSON: 'bm90IGpzb24' } }
    await refusedRegistration(t, app, { response: garbled }, alice)
    const noChallenge = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: 'a b' })).toString('base64url')
    await refusedRegistration(t, app, { response: { ...response, response: { ...response.response, clientDataJSON: noChallenge } } }, alice)
  })

  t.test('an expired challenge', async (t) => {
    const clock = fakeClock(t)
    const response = soft().register(await creationOptions(app, alice))
    clock.now += 301_000
    await refusedRegistration(t, app, { response }, alice)
  })

  t.test('malformed JSON, base64url and shapes: 400 before any parsing; oversized: 413', async (t) => {
    const response = soft().register(await creationOptions(app, alice))
    const bodies: unknown[] = [
      {},
      { response: 'x' },
      { response: { ...response, id: 'not base64url!' } },
      { response: { ...response, response: { ...response.response, attestationObject: 'a+b/' } } },
      { response: { ...response, response: { ...response.response, clientDataJSON: undefined } } },
      { response: { ...response, type: 'password' } },
      { response, name: '' },
      { response, name: '   ' },
      { response, name: 'a\nb' },
      { response, name: 'x'.repeat(65) }
    ]
    for (const body of bodies) await refusedRegistration(t, app, body, alice)
    const huge = { ...response, response: { ...response.response, attestationObject: 'A'.repeat(20_000) } }
    await refusedRegistration(t, app, { response: huge }, alice, 413)
    const raw = await app.inject({
      method: 'POST', url: '/auth/passkeys/register/verify', headers: { ...alice, 'content-type': 'application/json' }, payload: '{"response":'
    })
    t.equal(raw.statusCode, 400, 'malformed JSON')
  })

  t.test('a credential id longer than the columns hold', async (t) => {
    const response = soft().register(await creationOptions(app, alice), { idLength: 600 })
    await refusedRegistration(t, app, { response }, alice)
  })
})

t.test('login: wrong origin, rpID, type, signature, counter, user verification, credential', async (t) => {
  const app = await buildPasskeyApp(t, { passkeys: { userVerification: 'required' } })
  const { authenticator } = await registerPasskey(app, '1')
  const bob = await registerPasskey(app, '2')
  const forged: Array<[string, Forge, string]> = [
    ['another origin', { origin: 'https://evil.test' }, 'invalid'],
    ['another rpID\'s hash', { rpID: 'evil.test' }, 'invalid'],
    ['a create ceremony\'s client data', { type: 'webauthn.create' }, 'invalid'],
    ['no user verification, required', { flags: FLAGS.UP }, 'invalid'],
    ['another key\'s signature', { credential: bob.authenticator.credentials[0]! }, 'invalid'],
    ['another user\'s handle', { userHandle: bob.authenticator.credentials[0]!.userHandle }, 'user_handle']
  ]
  for (const [what, forge, reason] of forged) {
    t.test(what, async (t) => {
      await refusedLogin(t, app, { response: authenticator.login(await requestOptions(app), undefined, forge) }, reason)
    })
  }

  t.test('a counter that goes backwards (a cloned authenticator), or stays', async (t) => {
    t.equal((await post(app, '/passkeys/login/verify', { response: authenticator.login(await requestOptions(app)) })).statusCode, 200)
    const events = app.events.length
    await refusedLogin(t, app, { response: authenticator.login(await requestOptions(app), undefined, { counter: 0 }) }, 'counter_rollback')
    t.match(app.events.slice(events), [{ type: 'passkey.login.failure', reason: 'counter_rollback', userId: '1', credentialId: String }])
    await refusedLogin(t, app, { response: authenticator.login(await requestOptions(app), undefined, { counter: 1 }) }, 'counter_rollback')
  })

  t.test('a replayed assertion, an expired challenge, a challenge of a registration', async (t) => {
    const response = authenticator.login(await requestOptions(app))
    t.equal((await post(app, '/passkeys/login/verify', { response })).statusCode, 200)
    await refusedLogin(t, app, { response }, 'challenge')
    const clock = fakeClock(t)
    const late = authenticator.login(await requestOptions(app))
    clock.now += 301_000
    await refusedLogin(t, app, { response: late }, 'challenge')
    clock.now = Date.now()
    const registration = await creationOptions(app, await bearerOf(app, '3'))
    await refusedLogin(t, app, { response: authenticator.login(registration) }, 'challenge')
  })

  t.test('another user\'s credential for options of a name; an unknown credential', async (t) => {
    await refusedLogin(t, app, { response: bob.authenticator.login(await requestOptions(app, 'alice')) }, 'other_user')
    const stranger = soft()
    stranger.register({ challenge: 'x', user: { id: 'aGFuZGxl' } })
    await refusedLogin(t, app, { response: stranger.login(await requestOptions(app)) }, 'unknown_credential')
  })

  t.test('malformed and oversized bodies: 400 and 413', async (t) => {
    const response = authenticator.login(await requestOptions(app))
    const bodies: unknown[] = [
      {},
      { response: [] },
      { response: { ...response, response: { ...response.response, signature: '***' } } },
      { response: { ...response, response: { ...response.response, userHandle: 'a=b' } } },
      { response: { ...response, rawId: '' } }
    ]
    for (const body of bodies) await refusedLogin(t, app, body, undefined, 400)
    const huge = { ...response, response: { ...response.response, authenticatorData: 'A'.repeat(20_000) } }
    await refusedLogin(t, app, { response: huge }, undefined, 413)
    const garbled = { ...response, response: { ...response.response, clientDataJSON: 'e30' } }
    await refusedLogin(t, app, { response: garbled }, 'challenge')
    t.equal((await post(app, '/passkeys/login/options', { login: '' })).statusCode, 400)
  })
})

t.test('a user gone since the passkey was stored, and a counter moved meanwhile: 401', async (t) => {
  let race = false
  let gone = false
  const app = await buildPasskeyApp(t, {
    users: (users) => ({
      ...users,
      findById: async (id: string) => id === '1' && gone ? null : await users.findById(id),
      updatePasskey: async (...args: unknown[]) => race ? false : await users.updatePasskey(...args)
    })
  })
  const { authenticator } = await registerPasskey(app, '2')
  const alice = await registerPasskey(app, '1')
  gone = true
  await refusedLogin(t, app, { response: alice.authenticator.login(await requestOptions(app)) }, 'unknown_user')
  race = true
  const events = app.events.length
  const reply = await post(app, '/passkeys/login/verify', { response: authenticator.login(await requestOptions(app)) })
  t.equal(reply.statusCode, 401)
  t.match(app.events.slice(events), [{ type: 'passkey.login.failure', reason: 'counter_race', userId: '2' }])
})

t.test('a failing store: 503, never a session', async (t) => {
  const store = flakyStore()
  const app = await buildPasskeyApp(t, { store })
  const { authenticator, headers } = await registerPasskey(app, '1')
  store.failing.add('challenges.put')
  t.equal((await post(app, '/passkeys/login/options', {})).statusCode, 503)
  t.equal((await post(app, '/passkeys/register/options', undefined, headers)).statusCode, 503)
  store.failing.clear()
  const login = authenticator.login(await requestOptions(app))
  const registration = soft().register(await creationOptions(app, headers))
  store.failing.add('challenges.take')
  t.equal((await post(app, '/passkeys/login/verify', { response: login })).statusCode, 503)
  t.equal((await post(app, '/passkeys/register/verify', { response: registration }, headers)).statusCode, 503)
  t.notOk(app.events.some((event) => event.type === 'passkey.login.failure'), 'a store down is no failed login')
})

t.test('a failing users adapter: its error passes (500), never a session', async (t) => {
  const app = await buildPasskeyApp(t, {
    users: (users) => ({ ...users, findPasskey: async () => { throw new Error('database down') } })
  })
  const { authenticator } = await registerPasskey(app, '1')
  const reply = await post(app, '/passkeys/login/verify', { response: authenticator.login(await requestOptions(app)) })
  t.equal(reply.statusCode, 500)
  t.notMatch(reply.body, /access_token/)
})
