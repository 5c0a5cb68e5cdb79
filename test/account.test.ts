import t from 'tap'
import { STORE_FACTORIES, bearer } from './helpers/app.js'
import { buildAccountApp, Inbox, loginRequest, OLD_PASSWORD, seedAccountUsers, withoutCounters } from './helpers/account-app.js'

const NEW_PASSWORD = 'new-password-2'

for (const { name, create } of STORE_FACTORIES) {
  // A key-value store without increment cannot count for the lockout and the message limits (refused at register).
  const counts = name !== 'key-value'
  t.test(`account flows on the ${name} store`, async (t) => {
    const build = async ({ routes = {}, inbox = new Inbox(), ...options }: { routes?: Record<string, unknown>, inbox?: Inbox } = {}) => {
      const store = await create()
      t.teardown(() => store.close?.())
      const app = await buildAccountApp(store, await seedAccountUsers(), { ...options, inbox, routes: counts ? routes : withoutCounters(routes, inbox) })
      t.teardown(() => app.close())
      return app
    }

    t.test('forgot then reset: 202, one token by the mailer, 204, every session ends, the token works once', async (t) => {
      const app = await build()
      const first = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
      const second = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
      const forgot = await app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { username: 'alice' } })
      t.equal(forgot.statusCode, 202)
      const message = await app.inbox.next('reset')
      t.equal(message.userId, '1')
      t.equal(message.expiresIn, 1800, 'thirty minutes by default')
      t.notOk('passwordHash' in message.user, 'the mailer never sees the hash')
      t.match(message.token, /^[\w-]{43}$/)
      const reset = await app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token: message.token, password: NEW_PASSWORD } })
      t.equal(reset.statusCode, 204)
      for (const pair of [first, second]) {
        t.equal((await app.inject({ url: '/auth/me', headers: bearer(pair.access_token) })).statusCode, 401, 'access revoked')
        t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: pair.refresh_token } })).statusCode, 401, 'refresh revoked')
      }
      t.equal((await loginRequest(app, 'alice', OLD_PASSWORD)).statusCode, 401, 'the old password no longer works')
      t.equal((await loginRequest(app, 'alice', NEW_PASSWORD)).statusCode, 200, 'the new one does')
      const again = await app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token: message.token, password: 'another-password' } })
      t.equal(again.statusCode, 400)
      t.equal(again.json().code, 'FST_JWT_AUTH_RESET_TOKEN_INVALID', 'a used token')
      t.same(app.events.map((event) => event.type), ['login.success', 'login.success', 'password.reset.request', 'password.reset', 'login.failure', 'login.success', 'password.reset.failure'])
    })

    t.test('forgot for an unknown login: the same 202 and body, no message', async (t) => {
      const app = await build()
      const known = await app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { username: 'alice' } })
      const unknown = await app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { username: 'mallory' } })
      t.equal(unknown.statusCode, 202)
      t.equal(unknown.body, known.body)
      await app.inbox.next('reset')
      await new Promise((resolve) => setTimeout(resolve, 20))
      t.equal(app.inbox.messages.length, 1, 'only alice got one')
    })

    t.test('a new request leaves the earlier link working (no one can cancel a link); a reset kills them all', async (t) => {
      const app = await build()
      await app.jwtAuth.requestPasswordReset('alice')
      await app.jwtAuth.requestPasswordReset('alice')
      const [older, newer] = app.inbox.messages
      await app.jwtAuth.resetPassword(older!.token, NEW_PASSWORD)
      await t.rejects(app.jwtAuth.resetPassword(newer!.token, 'another-password'), { code: 'FST_JWT_AUTH_RESET_TOKEN_INVALID' },
        'issued for the password before the reset')
      t.equal((await loginRequest(app, 'alice', NEW_PASSWORD)).statusCode, 200)
    })

    t.test('the password policy applies to a reset; a refused password does not spend the token', async (t) => {
      const app = await build({ routes: { passwordPolicy: (password: string) => password.includes('alice') ? 'no names' : undefined } })
      await app.jwtAuth.requestPasswordReset('alice')
      const { token } = await app.inbox.next('reset')
      const short = await app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token, password: 'short' } })
      t.equal(short.json().code, 'FST_JWT_AUTH_WEAK_PASSWORD')
      const named = await app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token, password: 'alice-is-great' } })
      t.equal(named.json().message, 'no names')
      t.equal((await app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token, password: NEW_PASSWORD } })).statusCode, 204)
    })

    t.test('change: 200 and a new pair for this client; every other session ends; a wrong current password is 401', async (t) => {
      const app = await build()
      const here = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
      const elsewhere = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
      const wrong = await app.inject({ method: 'POST', url: '/auth/password/change', headers: bearer(here.access_token), payload: { currentPassword: 'wrong-password', newPassword: NEW_PASSWORD } })
      t.equal(wrong.statusCode, 401)
      t.equal(wrong.json().code, 'FST_JWT_AUTH_INVALID_CREDENTIALS')
      const changed = await app.inject({ method: 'POST', url: '/auth/password/change', headers: bearer(here.access_token), payload: { currentPassword: OLD_PASSWORD, newPassword: NEW_PASSWORD } })
      t.equal(changed.statusCode, 200)
      const pair = changed.json()
      t.equal((await app.inject({ url: '/auth/me', headers: bearer(pair.access_token) })).statusCode, 200, 'the new pair works')
      t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: pair.refresh_token } })).statusCode, 200)
      for (const old of [here, elsewhere]) {
        t.equal((await app.inject({ url: '/auth/me', headers: bearer(old.access_token) })).statusCode, 401)
      }
      const sessions = await app.jwtAuth.sessions(1)
      t.equal(sessions.length, 1, 'one session left')
      t.equal(sessions[0]!.familyId, JSON.parse(Buffer.from(here.refresh_token.split('.')[1], 'base64url').toString()).fam, 'this client\'s session goes on')
      t.equal((await loginRequest(app, 'alice', NEW_PASSWORD)).statusCode, 200)
      t.ok(app.events.some((event) => event.type === 'password.change' && event.userId === '1'))
    })

    t.test('wrong current passwords count toward the lockout', { skip: !counts && 'no lockout without increment' }, async (t) => {
      const app = await build({ routes: { lockout: { maxFailures: 2 } } })
      const { access_token: token } = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
      const change = (currentPassword: string) => app.inject({ method: 'POST', url: '/auth/password/change', headers: bearer(token), payload: { currentPassword, newPassword: NEW_PASSWORD } })
      t.equal((await change('wrong-1')).statusCode, 401)
      t.equal((await change('wrong-2')).statusCode, 401)
      t.equal((await change(OLD_PASSWORD)).statusCode, 429, 'locked')
      t.equal((await loginRequest(app, 'alice', OLD_PASSWORD)).statusCode, 429, 'the login of the same name too')
      t.ok(app.events.some((event) => event.type === 'lockout'))
    })

    t.test('email verification: request (logged in) -> 202 and a token; verify -> 204 and markEmailVerified', async (t) => {
      const app = await build()
      const { access_token: token } = (await loginRequest(app, 'bob', OLD_PASSWORD)).json()
      const request = await app.inject({ method: 'POST', url: '/auth/email/verify/request', headers: bearer(token) })
      t.equal(request.statusCode, 202)
      const message = await app.inbox.next('verify')
      t.equal(message.expiresIn, 86400, 'a day by default')
      t.equal((await app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token: message.token } })).statusCode, 204)
      t.equal(app.users[1]!.emailVerified, true)
      const again = await app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token: message.token } })
      t.equal(again.json().code, 'FST_JWT_AUTH_VERIFICATION_TOKEN_INVALID')
      t.equal((await app.inject({ method: 'POST', url: '/auth/email/verify/request' })).statusCode, 401, 'only when logged in')
      await app.inject({ method: 'POST', url: '/auth/email/verify/request', headers: bearer(token) })
      t.equal(app.inbox.messages.length, 1, 'no new message for a verified address')
    })

    t.test('a token of one kind never works for the other', async (t) => {
      const app = await build()
      await app.jwtAuth.requestEmailVerification(2)
      await app.jwtAuth.requestPasswordReset('bob')
      const verify = await app.inbox.next('verify')
      const reset = await app.inbox.next('reset')
      t.equal((await app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token: verify.token, password: NEW_PASSWORD } })).statusCode, 400)
      t.equal((await app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token: reset.token } })).statusCode, 400)
      t.equal((await app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token: reset.token, password: NEW_PASSWORD } })).statusCode, 204, 'each still works for its own purpose')
      t.equal((await app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token: verify.token } })).statusCode, 204)
    })

    t.test('required verification: a right password of an unverified user is 403 (and a new message), a wrong one 401', async (t) => {
      const app = await build({ routes: { emailVerification: { send: undefined as never, required: true } } }).catch((error) => error)
      t.match(app, { code: 'FST_JWT_AUTH_INVALID_OPTION' }, 'send is required')
      const inbox = new Inbox()
      const required = await build({ inbox, routes: { emailVerification: { send: inbox.sender('verify'), required: true } } })
      t.equal((await loginRequest(required, 'bob', 'wrong-password')).statusCode, 401, 'nothing told before the password is right')
      const refused = await loginRequest(required, 'bob', OLD_PASSWORD)
      t.equal(refused.statusCode, 403)
      t.equal(refused.json().code, 'FST_JWT_AUTH_EMAIL_NOT_VERIFIED')
      const { token } = await required.inbox.next('verify')
      const alice = await loginRequest(required, 'alice', OLD_PASSWORD)
      t.equal(alice.statusCode, 200, 'a verified user logs in', { body: alice.body })
      await required.jwtAuth.verifyEmail(token)
      t.equal((await loginRequest(required, 'bob', OLD_PASSWORD)).statusCode, 200, 'bob, once verified')
      const registered = await required.inject({ method: 'POST', url: '/auth/register', payload: { username: 'carol', password: 'carol-password' } })
      t.equal(registered.statusCode, 201)
      t.same(registered.json(), { emailVerificationRequired: true }, 'no tokens before the address is proved')
      t.equal((await required.inbox.next('verify', 1)).userId, '3')
      t.ok(required.events.some((event) => event.type === 'login.failure' && event.reason === 'email_not_verified'))
    })
  })
}

t.test('a login that upgrades a weak hash is not taken for a password change (the lookup returns copies)', async (t) => {
  const { hash } = await import('@node-rs/argon2')
  const users = await seedAccountUsers()
  users[0]!.passwordHash = await hash(OLD_PASSWORD, { memoryCost: 4096, timeCost: 1, parallelism: 1 })
  const weak = users[0]!.passwordHash
  const app = await buildAccountApp(undefined, users)
  t.teardown(() => app.close())
  const response = await loginRequest(app, 'alice', OLD_PASSWORD)
  t.equal(response.statusCode, 200)
  t.not(users[0]!.passwordHash, weak, 'rehashed')
  t.equal((await app.inject({ url: '/auth/me', headers: bearer(response.json().access_token) })).statusCode, 200)
})

t.test('a login whose password changed while it was checked is refused and its tokens revoked', async (t) => {
  const users = await seedAccountUsers()
  const app = await buildAccountApp(undefined, users)
  t.teardown(() => app.close())
  // The change lands between the password check and the second read: the first findByLogin, then the change.
  const original = app.jwtAuth.verifyPassword
  let changed = false
  const realHash = users[0]!.passwordHash
  app.jwtAuth.verifyPassword = async (stored, plain) => {
    const result = await original(stored, plain)
    if (!changed && stored === realHash) {
      changed = true
      await app.jwtAuth.changePassword(1, NEW_PASSWORD)
    }
    return result
  }
  const response = await loginRequest(app, 'alice', OLD_PASSWORD)
  t.equal(response.statusCode, 401)
  t.equal(response.json().code, 'FST_JWT_AUTH_INVALID_CREDENTIALS')
  t.same(await app.jwtAuth.sessions(1), [], 'no session left behind')
})
