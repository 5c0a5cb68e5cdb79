// The account flows at their edges: a misconfigured or failing app, lookups that leave fields out, users gone.
import Fastify from 'fastify'
import t from 'tap'
import jwtAuth, { memoryStore } from '../lib/index.js'
import { bearer, SECRET } from './helpers/app.js'
import { Inbox, loginRequest, OLD_PASSWORD, seedAccountUsers } from './helpers/account-app.js'
import { buildHarness, cloneUsers, post, sleep, tokenDigest } from './helpers/account-harness.js'

const seed = await seedAccountUsers()
const NEW_PASSWORD = 'new-password-3'

async function harness (t: { teardown: (fn: () => unknown) => void }, options: Parameters<typeof buildHarness>[2] = {}, store = memoryStore()) {
  const app = await buildHarness(store, cloneUsers(seed), options)
  t.teardown(async () => { await app.close(); await store.close() })
  return app
}

t.test('the API names what it needs when the app did not configure it', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, users: { findById: async () => null } })
  t.teardown(() => app.close())
  await t.rejects(app.jwtAuth.requestPasswordReset('alice'), /requestPasswordReset needs routes.passwordReset.send/)
  await t.rejects(app.jwtAuth.requestEmailVerification(1), /requestEmailVerification needs routes.emailVerification.send/)
  await t.rejects(app.jwtAuth.changePassword(1, NEW_PASSWORD), /changePassword needs users.updatePasswordHash/)
  await t.rejects(app.jwtAuth.resetPassword('x'.repeat(43), NEW_PASSWORD), /resetPassword needs users.updatePasswordHash/)
  const bare = Fastify()
  await bare.register(jwtAuth, { secret: SECRET })
  t.teardown(() => bare.close())
  await t.rejects(bare.jwtAuth.changePassword(1, NEW_PASSWORD), /changePassword needs users.findById and users.updatePasswordHash/)
})

t.test('a verification mailer that fails: still 202, the failure logged without the token', async (t) => {
  const app = await harness(t, { routes: { emailVerification: { send: async () => { throw new Error('smtp down') } } } })
  const { access_token: token } = (await loginRequest(app, 'bob', OLD_PASSWORD)).json()
  const response = await app.inject({ method: 'POST', url: '/auth/email/verify/request', headers: bearer(token) })
  t.equal(response.statusCode, 202)
  t.ok(app.logs.some((line) => line.includes('routes.emailVerification.send failed') && line.includes('smtp down')))
})

t.test('a reset request whose lookup fails: still 202, the failure logged', async (t) => {
  const app = await harness(t, { callbacks: () => ({ findByLogin: async () => { throw new Error('db down') } }) })
  t.equal((await post(app, '/auth/password/forgot', { username: 'alice' })).statusCode, 202)
  for (let i = 0; i < 50 && !app.logs.some((line) => line.includes('password reset request failed')); i++) await sleep(5)
  t.ok(app.logs.some((line) => line.includes('password reset request failed') && line.includes('db down')))
  t.same(app.inbox.messages, [])
})

t.test('the API: a non-string login looks nothing up; a non-string password is refused; an unknown user', async (t) => {
  const app = await harness(t)
  await app.jwtAuth.requestPasswordReset(42 as unknown as string)
  t.equal(app.calls.findByLogin, 0)
  await t.rejects(app.jwtAuth.changePassword(1, 12345678 as unknown as string), { code: 'FST_JWT_AUTH_WEAK_PASSWORD', message: 'The password must be a string' })
  await t.rejects(app.jwtAuth.changePassword(99, NEW_PASSWORD), { code: 'FST_JWT_AUTH_USER_NOT_FOUND' })
})

t.test('keepFamilyId that is no live session of the user: the change goes on in a new session', async (t) => {
  const app = await harness(t)
  const pair = await app.jwtAuth.changePassword(1, NEW_PASSWORD, { keepFamilyId: 'not-a-session' })
  const family = JSON.parse(Buffer.from(pair.refreshToken.split('.')[1]!, 'base64url').toString()).fam
  t.not(family, 'not-a-session')
  t.same((await app.jwtAuth.sessions(1)).map((session) => session.familyId), [family])
})

t.test('a reset token whose user is gone is refused', async (t) => {
  const app = await harness(t)
  await app.jwtAuth.requestPasswordReset('alice')
  const { token } = await app.inbox.next('reset')
  app.users.splice(0, 1)
  t.equal((await post(app, '/auth/password/reset', { token, password: NEW_PASSWORD })).json().code, 'FST_JWT_AUTH_RESET_TOKEN_INVALID')
})

t.test('a tampered reset record in the store is refused, never a 500', async (t) => {
  const store = memoryStore()
  const app = await harness(t, {}, store)
  const token = 'A'.repeat(43)
  await store.challenges.put(`reset:${tokenDigest(token)}`, 'not json', 60)
  t.equal((await post(app, '/auth/password/reset', { token, password: NEW_PASSWORD })).statusCode, 400)
})

t.test('a refused password when the token has run out meanwhile: nothing is put back', async (t) => {
  const store = memoryStore()
  const inbox = new Inbox()
  const app = await harness(t, {
    inbox,
    routes: {
      passwordReset: { send: inbox.sender('reset'), ttl: 1 },
      passwordPolicy: async () => { await sleep(1100); return 'too slow' }
    }
  }, store)
  await app.jwtAuth.requestPasswordReset('alice')
  const { token } = await inbox.next('reset')
  t.equal((await post(app, '/auth/password/reset', { token, password: NEW_PASSWORD })).json().message, 'too slow')
  t.equal(await store.challenges.take(`reset:${tokenDigest(token)}`), null, 'not restored: it had expired')
})

t.test('change password: the hash is read past the cache, from findById or else findByLogin(username)', async (t) => {
  t.test('findById leaves the hash out: findByLogin gives it', async (t) => {
    const app = await harness(t, { callbacks: (defaults) => ({ findById: async (id) => { const user = await defaults.findById(id) as Record<string, unknown> | null; if (user !== null) delete user.passwordHash; return user } }) })
    const { access_token: token } = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
    t.equal((await post(app, '/auth/password/change', { currentPassword: OLD_PASSWORD, newPassword: NEW_PASSWORD }, bearer(token))).statusCode, 200)
  })
  for (const [name, findByLogin] of [
    ['no user by that login', async () => null],
    ['another user by that login', async () => ({ id: 2, username: 'alice', passwordHash: seed[0]!.passwordHash })],
    ['no hash by that login either', async () => ({ id: 1, username: 'alice' })]
  ] as const) {
    t.test(`findById without the hash, ${name}: an error, never a change`, async (t) => {
      const app = await harness(t, {
        callbacks: (defaults) => ({
          findById: async (id) => {
            const user = await defaults.findById(id) as Record<string, unknown> | null
            if (user !== null) delete user.passwordHash
            return user
          },
          findByLogin
        })
      })
      const token = (await app.jwtAuth.issue({ id: 1 })).accessToken
      const response = await post(app, '/auth/password/change', { currentPassword: OLD_PASSWORD, newPassword: NEW_PASSWORD }, bearer(token))
      t.equal(response.statusCode, 500)
      t.equal(app.calls.updatePasswordHash, 0)
    })
  }
  t.test('findById gives neither the hash nor a username: an error that names the need', async (t) => {
    const app = await harness(t, { callbacks: () => ({ findById: async (id) => id === '1' ? { id: 1, roles: [] } : null }) })
    const token = (await app.jwtAuth.issue({ id: 1 })).accessToken
    const response = await post(app, '/auth/password/change', { currentPassword: OLD_PASSWORD, newPassword: NEW_PASSWORD }, bearer(token))
    t.equal(response.statusCode, 500)
    t.ok(app.logs.some((line) => line.includes('users.findById must return passwordHash')))
  })
  t.test('the user is gone by the time the hash is read: 401', async (t) => {
    const app = await harness(t, { options: { userCacheTtl: '1h' } })
    const { access_token: token } = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
    t.equal((await app.inject({ url: '/auth/me', headers: bearer(token) })).statusCode, 200, 'cached')
    app.users.splice(0, 1)
    const response = await post(app, '/auth/password/change', { currentPassword: OLD_PASSWORD, newPassword: NEW_PASSWORD }, bearer(token))
    t.equal(response.json().code, 'FST_JWT_AUTH_USER_NOT_FOUND')
  })
  t.test('a user without a username: the policy and the lockout know it by its id', async (t) => {
    const names: string[] = []
    const app = await harness(t, {
      routes: { passwordPolicy: (password: string, { username }: { username: string }) => { names.push(username) } },
      callbacks: (defaults) => ({ findById: async (id) => { const user = await defaults.findById(id) as Record<string, unknown> | null; if (user !== null) delete user.username; return user } })
    })
    const token = (await app.jwtAuth.issue({ id: 1 })).accessToken
    t.equal((await post(app, '/auth/password/change', { currentPassword: OLD_PASSWORD, newPassword: NEW_PASSWORD }, bearer(token))).statusCode, 200)
    t.same(names, ['id:1'])
  })
})

t.test('a lookup that throws something other than an Error: the login.failure event has no reason, the answer is 500', async (t) => {
  // eslint-disable-next-line no-throw-literal -- what a careless lookup may throw
  const findByLogin = async () => { throw 'not an error' }
  const app = await harness(t, { callbacks: () => ({ findByLogin }) })
  t.equal((await loginRequest(app, 'alice', OLD_PASSWORD)).statusCode, 500)
  t.same(app.events.map((event) => [event.type, event.reason]), [['login.failure', undefined]])
})

t.test('changePassword() overtaken by revokeAll while it runs: refused, the revocation stands', async (t) => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let entered!: () => void
  const inPolicy = new Promise<void>((resolve) => { entered = resolve })
  const app = await harness(t, { routes: { passwordPolicy: async () => { entered(); await gate } } })
  const changing = app.jwtAuth.changePassword(1, NEW_PASSWORD)
  await inPolicy
  await app.jwtAuth.revokeAll(1)
  release()
  await t.rejects(changing, { code: 'FST_JWT_AUTH_TOKEN_REVOKED' })
  t.equal(app.calls.updatePasswordHash, 0, 'nothing written')
})

t.test('a scoped session keeps its scope through a password change', async (t) => {
  const app = await harness(t)
  const pair = await app.jwtAuth.issue({ id: 1 }, { scope: 'reports' })
  const changed = await post(app, '/auth/password/change', { currentPassword: OLD_PASSWORD, newPassword: NEW_PASSWORD }, bearer(pair.accessToken))
  t.equal(changed.statusCode, 200)
  t.equal((await app.jwtAuth.verify(changed.json().access_token)).scope, 'reports')
})

t.test('a user without an email: the verification token is tied to "no address", and still works', async (t) => {
  const app = await harness(t, { callbacks: (defaults) => ({ findById: async (id) => { const user = await defaults.findById(id) as Record<string, unknown> | null; if (user !== null) delete user.email; return user } }) })
  await app.jwtAuth.requestEmailVerification(2)
  const { token } = await app.inbox.next('verify')
  t.equal((await post(app, '/auth/email/verify', { token })).statusCode, 204)
})

t.test('the password changes while a login upgrades its weak hash: no upgrade is written, the login is refused', async (t) => {
  const { hash } = await import('@node-rs/argon2')
  const users = cloneUsers(seed)
  users[0]!.passwordHash = await hash(OLD_PASSWORD, { memoryCost: 4096, timeCost: 1, parallelism: 1 })
  const store = memoryStore()
  const app = await buildHarness(store, users)
  t.teardown(async () => { await app.close(); await store.close() })
  const hashPassword = app.jwtAuth.hashPassword
  const other = await hashPassword('changed-meanwhile')
  // The upgrade's hashing is where the change lands: the user is read again just before the write.
  app.jwtAuth.hashPassword = async (plain) => { users[0]!.passwordHash = other; return await hashPassword(plain) }
  t.equal((await loginRequest(app, 'alice', OLD_PASSWORD)).statusCode, 401)
  t.equal(app.calls.updatePasswordHash, 0)
  t.equal(users[0]!.passwordHash, other)
})
