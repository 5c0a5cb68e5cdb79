// An attack that must fail: guessing the current password at /password/change (with a stolen access token) and guessing tokens at
// /password/reset and /email/verify leave no audit event (ASVS 5 V16: failed authentication attempts are logged).
import t from 'tap'
import { memoryStore } from '../../lib/index.js'
import { bearer } from '../helpers/app.js'
import { OLD_PASSWORD, seedAccountUsers } from '../helpers/account-app.js'
import { buildHarness, cloneUsers, post } from '../helpers/account-harness.js'

t.test('failed password changes and token guesses are audit events', async (t) => {
  const app = await buildHarness(memoryStore(), cloneUsers(await seedAccountUsers()), { routes: { lockout: false } })
  t.teardown(() => app.close())
  const login = await post(app, '/auth/login', { username: 'alice', password: OLD_PASSWORD })
  const access = login.json().access_token as string
  app.events.length = 0
  const statuses: number[] = []
  for (let i = 0; i < 3; i++) {
    statuses.push((await post(app, '/auth/password/change', { currentPassword: `guess-${i}-xxxx`, newPassword: 'new-password-2' }, bearer(access))).statusCode)
  }
  statuses.push((await post(app, '/auth/password/reset', { token: 'A'.repeat(43), password: 'new-password-2' })).statusCode)
  statuses.push((await post(app, '/auth/email/verify', { token: 'B'.repeat(43) })).statusCode)
  t.comment(`statuses: ${statuses.join(',')}; events: ${JSON.stringify(app.events.map((event) => event.type))}`)
  t.ok(app.events.length >= 3, 'each failed current-password check is an event (e.g. password.change.failure)')
})
