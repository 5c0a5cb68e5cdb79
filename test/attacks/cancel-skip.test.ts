import t from 'tap'
import { memoryStore } from '../../lib/index.js'
import { bearer } from '../helpers/app.js'
import { OLD_PASSWORD, seedAccountUsers } from '../helpers/account-app.js'
import { buildHarness, cloneUsers, post } from '../helpers/account-harness.js'

t.test('a change whose cache invalidation fails still kills the pending reset link', async (t) => {
  const store = memoryStore()
  const app = await buildHarness(store, cloneUsers(await seedAccountUsers()))
  t.teardown(() => app.close())
  // A reset link sits in a mailbox the attacker reads.
  await post(app, '/auth/password/forgot', { username: 'alice' })
  const { token } = await app.inbox.next('reset')
  const login = await post(app, '/auth/login', { username: 'alice', password: OLD_PASSWORD })
  // The invalidation channel (Redis pub/sub in production) fails for this one publish.
  const invalidations = store.userInvalidations as { publish: (id: string) => Promise<void> }
  const original = invalidations.publish
  invalidations.publish = async () => { invalidations.publish = original; throw new Error('publish failed') }
  const changed = await post(app, '/auth/password/change', { currentPassword: OLD_PASSWORD, newPassword: 'victim-new-password' }, bearer(login.json().access_token))
  t.comment(`change: ${changed.statusCode}; stored password changed: ${(await post(app, '/auth/login', { username: 'alice', password: 'victim-new-password' })).statusCode === 200}`)
  const reset = await post(app, '/auth/password/reset', { token, password: 'attacker-password' })
  t.comment(`the old reset link after the change: ${reset.statusCode}`)
  t.equal(reset.statusCode, 400, 'a password change ends the pending link even when a later step fails')
})
