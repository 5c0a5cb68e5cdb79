// An attack that must fail: one-time tokens are bound to nothing but the user id: they outlive the account (and the address) they
// were sent for. Deleted user + reused id -> the old reset token takes over the new account; an old verification
// token verifies an address it was never sent to.
import t from 'tap'
import { memoryStore } from '../../lib/index.js'
import { OLD_PASSWORD, seedAccountUsers } from '../helpers/account-app.js'
import { buildHarness, cloneUsers, post } from '../helpers/account-harness.js'

t.test('a reset token of a deleted account does not reset the account that reuses its id', async (t) => {
  const users = cloneUsers(await seedAccountUsers())
  const app = await buildHarness(memoryStore(), users)
  t.teardown(() => app.close())
  // Mallory registers (id 3), asks for a reset link to her own mailbox.
  t.equal((await post(app, '/auth/register', { username: 'mallory', password: 'mallory-pass-1' })).statusCode, 201)
  await post(app, '/auth/password/forgot', { username: 'mallory' })
  const { token, userId } = await app.inbox.next('reset')
  t.equal(userId, '3')
  // She deletes her account; the app does what the README offers: revokeAll. (Ids are reused, as SQLite rowids are.)
  users.splice(users.findIndex((user) => user.username === 'mallory'), 1)
  await app.jwtAuth.revokeAll(3)
  // Victor registers and gets id 3.
  t.equal((await post(app, '/auth/register', { username: 'victor', password: 'victor-pass-1' })).statusCode, 201)
  t.equal(users.find((user) => user.username === 'victor')!.id, 3)
  // Mallory spends her old link.
  const reset = await post(app, '/auth/password/reset', { token, password: 'owned-by-mallory' })
  t.comment(`old reset token on the new account: ${reset.statusCode}`)
  t.equal(reset.statusCode, 400, 'a token sent for another account is refused')
  const takeover = await post(app, '/auth/login', { username: 'victor', password: 'owned-by-mallory' })
  t.comment(`mallory logs in as victor: ${takeover.statusCode}`)
})

t.test('a verification token sent to one address does not verify the address the user has now', async (t) => {
  const users = cloneUsers(await seedAccountUsers())
  const app = await buildHarness(memoryStore(), users)
  t.teardown(() => app.close())
  // Bob (unverified) gets a token at bob@example.test...
  const login = await post(app, '/auth/login', { username: 'bob', password: OLD_PASSWORD })
  await post(app, '/auth/email/verify/request', {}, { authorization: `Bearer ${login.json().access_token}` })
  const { token, user } = await app.inbox.next('verify')
  t.equal(user.email, 'bob@example.test')
  // ...then changes his address in the app to one he does not own (the app clears the flag).
  users[1]!.email = 'ceo@victim.example'
  users[1]!.emailVerified = false
  await app.jwtAuth.invalidateUser(2)
  const verified = await post(app, '/auth/email/verify', { token })
  t.comment(`old token after the address changed: ${verified.statusCode}; ${users[1]!.email} verified=${users[1]!.emailVerified}`)
  t.equal(verified.statusCode, 400, 'the token proves bob@example.test, not ceo@victim.example')
})
