// Passkeys end to end without a browser (issue 23): a software authenticator (test/helpers/webauthn.ts) registers a
// passkey of a logged-in user, lists and removes it, and logs in with it, with and without a name.
import t from 'tap'
import {
  bearerOf, buildPasskeyApp, claimsOf, creationOptions, ORIGIN, post, registerPasskey, requestOptions, RP_ID
} from '../helpers/passkey-app.js'
import { FLAGS, SoftAuthenticator } from '../helpers/webauthn.js'

t.test('register: creation options for the user, then the passkey stored; its events', async (t) => {
  const app = await buildPasskeyApp(t)
  const headers = await bearerOf(app, '1')
  const options = await creationOptions(app, headers)
  t.match(options, {
    rp: { id: RP_ID, name: 'Example' },
    user: { name: 'alice' },
    excludeCredentials: [],
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    attestation: 'none',
    timeout: 300_000,
    pubKeyCredParams: [{ alg: -8 }, { alg: -7 }, { alg: -257 }]
  })
  t.equal(Buffer.from(options.user.id, 'base64url').length, 32, 'the user handle is 32 random bytes')
  t.not(options.user.id, Buffer.from('1').toString('base64url'), 'not the user id')
  const authenticator = new SoftAuthenticator({ rpID: RP_ID, origin: ORIGIN })
  const response = authenticator.register(options)
  const reply = await post(app, '/passkeys/register/verify', { response, name: ' Laptop ' }, headers)
  t.equal(reply.statusCode, 201, reply.body)
  const body = reply.json()
  t.same(Object.keys(body).sort(), ['createdAt', 'id', 'name'])
  t.match(body, { id: response.id, name: 'Laptop' })
  t.match(app.events.at(-1), { type: 'passkey.register', userId: '1', credentialId: response.id })
  const again = await creationOptions(app, headers)
  t.equal(again.user.id, options.user.id, 'the same handle next time')
  t.same(again.excludeCredentials.map((one) => one.id), [response.id], 'the user\'s own passkeys are excluded')
  const bob = await creationOptions(app, await bearerOf(app, '2'))
  t.not(bob.user.id, options.user.id, 'another user has another handle')
  t.same(bob.excludeCredentials, [])

  const list = await app.inject({ method: 'GET', url: '/auth/passkeys', headers })
  t.equal(list.statusCode, 200)
  t.match(list.json(), { passkeys: [{ id: response.id, name: 'Laptop', transports: ['internal', 'hybrid'], backedUp: true, lastUsedAt: null }] })
  t.notMatch(list.body, /publicKey|counter|userHandle/, 'no key material')

  const named = await registerPasskey(app, '1')
  t.equal(named.passkey.name, 'Passkey', 'the default name')
  const unauthenticated = await post(app, '/passkeys/register/options')
  t.equal(unauthenticated.statusCode, 401)
})

t.test('the same credential registered twice: 409', async (t) => {
  const app = await buildPasskeyApp(t)
  const { authenticator, headers } = await registerPasskey(app, '1')
  const response = authenticator.register(await creationOptions(app, headers))
  const [credential] = authenticator.credentials
  authenticator.credentials.pop()
  // The authenticator answers with the first credential's id again (an authenticator that ignores excludeCredentials).
  const again = { ...response, id: credential!.id.toString('base64url'), rawId: credential!.id.toString('base64url') }
  const reply = await post(app, '/passkeys/register/verify', { response: again }, headers)
  t.equal(reply.statusCode, 400, 'id and rawId must match the attested credential')
  const same = authenticator.register(await creationOptions(app, headers))
  app.tables.passkeys.set(same.id, { ...[...app.tables.passkeys.values()][0]!, id: same.id })
  const taken = await post(app, '/passkeys/register/verify', { response: same }, headers)
  t.equal(taken.statusCode, 409)
  t.equal(taken.json().code, 'FST_JWT_AUTH_PASSKEY_TAKEN')
})

t.test('login without a name (discoverable): the pair, amr hwk and user; the counter and last use stored', async (t) => {
  const app = await buildPasskeyApp(t)
  const { authenticator, passkey } = await registerPasskey(app, '1')
  const options = await requestOptions(app)
  t.same(options.allowCredentials, [], 'any discoverable passkey')
  t.equal(options.userVerification, 'preferred')
  const reply = await post(app, '/passkeys/login/verify', { response: authenticator.login(options) })
  t.equal(reply.statusCode, 200, reply.body)
  t.equal(reply.headers['cache-control'], 'no-store')
  const claims = claimsOf(reply.json().access_token)
  t.equal(claims.sub, '1')
  t.same(claims.amr, ['hwk', 'user'])
  t.type(claims.auth_time, 'number')
  t.match(app.events.at(-1), { type: 'passkey.login.success', userId: '1', credentialId: passkey.id, familyId: String })
  const stored = app.tables.passkeys.get(passkey.id)!
  t.equal(stored.counter, 1)
  t.type(stored.lastUsedAt, 'string')
  const me = await app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${reply.json().access_token}` } })
  t.equal(me.statusCode, 200, 'the token calls a protected route')

  // Without user verification (a security key touched, no PIN): hwk only.
  const second = await post(app, '/passkeys/login/verify', {
    response: authenticator.login(await requestOptions(app), undefined, { flags: FLAGS.UP })
  })
  t.equal(second.statusCode, 200, second.body)
  t.same(claimsOf(second.json().access_token).amr, ['hwk'])
})

t.test('login with a name: that user\'s passkeys allowed; an unknown name gets the options of no name', async (t) => {
  const app = await buildPasskeyApp(t)
  const { authenticator, passkey } = await registerPasskey(app, '1')
  const options = await requestOptions(app, 'alice')
  t.same(options.allowCredentials?.map((one) => one.id), [passkey.id])
  const reply = await post(app, '/passkeys/login/verify', { response: authenticator.login(options, undefined, { userHandle: null }) })
  t.equal(reply.statusCode, 200, 'a non-discoverable assertion (no user handle)')
  t.same((await requestOptions(app, 'nobody')).allowCredentials, [])
})

t.test('synced passkeys: counters of 0 log in again and again', async (t) => {
  const app = await buildPasskeyApp(t)
  const { authenticator } = await registerPasskey(app, '1', new SoftAuthenticator({ rpID: RP_ID, origin: ORIGIN, synced: true }))
  for (let i = 0; i < 3; i++) {
    const reply = await post(app, '/passkeys/login/verify', { response: authenticator.login(await requestOptions(app)) })
    t.equal(reply.statusCode, 200)
  }
})

t.test('DELETE /passkeys/:id: the user\'s own, never the last way to log in', async (t) => {
  const records = (await import('../helpers/mfa-app.js')).mfaRecords
  const users = await records()
  // carol has no password: her passkeys are her only way in.
  const { passwordHash, ...carol } = users[2]!
  const app = await buildPasskeyApp(t, { records: [users[0]!, users[1]!, carol as never] })
  const alice = await registerPasskey(app, '1')
  const first = await registerPasskey(app, '3')
  const second = await registerPasskey(app, '3')
  const remove = (id: string, headers: { authorization: string }) =>
    app.inject({ method: 'DELETE', url: `/auth/passkeys/${id}`, headers })
  t.equal((await remove(alice.passkey.id, first.headers)).statusCode, 404, 'another user\'s passkey')
  t.equal((await remove('not-one', first.headers)).statusCode, 404)
  t.equal((await remove('%20', first.headers)).statusCode, 400, 'a malformed id')
  t.equal((await remove(first.passkey.id, first.headers)).statusCode, 204, 'carol has another passkey')
  t.match(app.events.at(-1), { type: 'passkey.remove', userId: '3', credentialId: first.passkey.id })
  const last = await remove(second.passkey.id, first.headers)
  t.equal(last.statusCode, 409, 'her last way to log in')
  t.equal(last.json().code, 'FST_JWT_AUTH_PASSKEY_LAST_LOGIN')
  t.equal((await remove(alice.passkey.id, alice.headers)).statusCode, 204, 'alice has a password')
  t.same((await app.inject({ url: '/auth/passkeys', headers: alice.headers })).json(), { passkeys: [] })
})

t.test('without the passkeys option: no passkey routes', async (t) => {
  const { buildMfaApp } = await import('../helpers/mfa-app.js')
  const app = await buildMfaApp(t)
  t.equal((await app.inject({ url: '/auth/passkeys' })).statusCode, 404)
  t.equal((await post(app, '/passkeys/login/options', {})).statusCode, 404)
})

t.test('the account name falls back to the email, then the id; a response without transports', async (t) => {
  const app = await buildPasskeyApp(t, {
    users: (users) => ({
      ...users,
      findById: async (id: string) => {
        const user = await users.findById(id)
        return user === null ? null : { id, roles: ['user'], ...(id === '1' ? { email: user.email } : {}) }
      }
    })
  })
  t.equal((await creationOptions(app, await bearerOf(app, '1'))).user.name, 'alice@example.test')
  const headers = await bearerOf(app, '2')
  const options = await creationOptions(app, headers)
  t.equal(options.user.name, '2')
  const response = new SoftAuthenticator({ rpID: RP_ID, origin: ORIGIN }).register(options)
  const { transports, ...rest } = response.response
  t.equal((await post(app, '/passkeys/register/verify', { response: { ...response, response: rest } }, headers)).statusCode, 201)
  t.match((await app.inject({ url: '/auth/passkeys', headers })).json(), { passkeys: [{ transports: [] }] })
})

t.test('races: a user gone before the handle is stored, a passkey removed meanwhile', async (t) => {
  const app = await buildPasskeyApp(t, {
    users: (users) => ({
      ...users,
      passkeyUserHandle: async (id: string, candidate: string) => id === '2' ? null : await users.passkeyUserHandle(id, candidate),
      removePasskey: async () => false
    })
  })
  const gone = await post(app, '/passkeys/register/options', undefined, await bearerOf(app, '2'))
  t.equal(gone.statusCode, 401)
  t.equal(gone.json().code, 'FST_JWT_AUTH_USER_NOT_FOUND')
  const { passkey, headers } = await registerPasskey(app, '1')
  const reply = await app.inject({ method: 'DELETE', url: `/auth/passkeys/${passkey.id}`, headers })
  t.equal(reply.statusCode, 404, 'removed by another request: not found')
})

t.test('rate limits: the login ceremony counts with the credentials class, the account\'s passkeys with mfa', async (t) => {
  const app = await buildPasskeyApp(t, {
    options: { rateLimit: { credentials: { max: 2, timeWindow: '1 minute' }, mfa: { max: 1, timeWindow: '1 minute' } } }
  })
  const statuses = []
  for (let i = 0; i < 3; i++) statuses.push((await post(app, '/passkeys/login/options', {})).statusCode)
  statuses.push((await post(app, '/passkeys/login/verify', {})).statusCode)
  t.same(statuses, [200, 200, 429, 429])
  const headers = await bearerOf(app, '1')
  t.equal((await app.inject({ url: '/auth/passkeys', headers })).statusCode, 200)
  t.equal((await post(app, '/passkeys/register/options', undefined, headers)).statusCode, 429)
})

t.test('passkeys.registrationMaxAge: registering needs a recent login (RFC 9470), as the app asks', async (t) => {
  const app = await buildPasskeyApp(t, { passkeys: { registrationMaxAge: '5m' } })
  const issued = async (authTime: number) => {
    const pair = await app.jwtAuth.issue({ id: '1', roles: ['user'] }, { amr: ['pwd'], authTime: new Date(authTime * 1000) })
    return { authorization: `Bearer ${pair.accessToken}` }
  }
  const now = Math.floor(Date.now() / 1000)
  const old = await post(app, '/passkeys/register/options', undefined, await issued(now - 301))
  t.equal(old.statusCode, 401, 'a login of 5 minutes and 1 second ago')
  t.match(old.headers['www-authenticate'], /error="insufficient_user_authentication".*max_age="300"/)
  t.equal((await post(app, '/passkeys/register/options', undefined, await issued(now - 60))).statusCode, 200)
  t.equal((await post(app, '/passkeys/register/options')).statusCode, 401, 'and a login at all')
})
