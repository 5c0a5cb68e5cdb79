import t from 'tap'
import { memoryStore } from '../../lib/index.js'
import { bearer } from '../helpers/app.js'
import { OLD_PASSWORD, seedAccountUsers } from '../helpers/account-app.js'
import { buildHarness, cloneUsers, post } from '../helpers/account-harness.js'

const decode = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())

t.test('a verification token of a deleted user is refused; markEmailVerified is not called', async (t) => {
  const users = cloneUsers(await seedAccountUsers())
  const app = await buildHarness(memoryStore(), users, {
    // A database UPDATE of no row: no error.
    callbacks: (defaults) => ({ markEmailVerified: async (id) => { if (users.some((u) => String(u.id) === id)) await defaults.markEmailVerified(id) } })
  })
  t.teardown(() => app.close())
  const login = await post(app, '/auth/login', { username: 'bob', password: OLD_PASSWORD })
  await post(app, '/auth/email/verify/request', {}, bearer(login.json().access_token))
  const { token } = await app.inbox.next('verify')
  users.splice(1, 1)
  await app.jwtAuth.revokeAll(2)
  const r = await post(app, '/auth/email/verify', { token })
  t.comment(`verify for a deleted user: ${r.statusCode}; events: ${JSON.stringify(app.events.filter((e) => e.type === 'email.verify'))}`)
  t.equal(r.statusCode, 400, 'as /password/reset does, a token whose user is gone is refused')
  t.equal(app.calls.markEmailVerified, 0, 'markEmailVerified is not called for a user that does not exist')
})

t.test('password change re-issues the kept session with its claims', async (t) => {
  const app = await buildHarness(memoryStore(), cloneUsers(await seedAccountUsers()))
  t.teardown(() => app.close())
  const pair = await app.jwtAuth.issue({ id: 1, roles: ['admin'] }, { claims: { tenant: 't1', readOnly: true } })
  t.same(decode(pair.accessToken).tenant, 't1')
  const r = await post(app, '/auth/password/change', { currentPassword: OLD_PASSWORD, newPassword: 'new-password-2' }, bearer(pair.accessToken))
  t.equal(r.statusCode, 200)
  const after = decode(r.json().access_token)
  t.comment(`claims after change: tenant=${after.tenant} readOnly=${after.readOnly} fam same=${after.fam === decode(pair.accessToken).fam}`)
  t.equal(after.readOnly, true, 'the session that goes on keeps its claims')
  const refreshed = await post(app, '/auth/refresh', { refresh_token: pair.refreshToken })
  t.comment(`refresh without change: ${refreshed.statusCode}`)
})
