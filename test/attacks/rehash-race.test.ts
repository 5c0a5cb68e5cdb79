// An attack that must fail: a login with the OLD password whose rehash write lands after a password reset undoes the reset.
import t from 'tap'
import { hash } from '@node-rs/argon2'
import { memoryStore } from '../../lib/index.js'
import { bearer } from '../helpers/app.js'
import { OLD_PASSWORD, type AccountUser } from '../helpers/account-app.js'
import { buildHarness, post } from '../helpers/account-harness.js'

const VICTIM_NEW = 'victim-new-password'

t.test('a reset racing a rehashing login with the old password: the login is refused, the reset stands', async (t) => {
  // A hash made before the app raised its argon2 parameters: needsRehash says true.
  const weak = await hash(OLD_PASSWORD, { memoryCost: 4096, timeCost: 1, parallelism: 1 })
  const users: AccountUser[] = [{ id: 1, username: 'alice', email: 'alice@example.test', emailVerified: true, passwordHash: weak, roles: [] }]
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let entered!: () => void
  const inRehash = new Promise<void>((resolve) => { entered = resolve })
  let first = true
  const app = await buildHarness(memoryStore(), users, {
    callbacks: (defaults) => ({
      // A slow database write: the first call is the login's rehash of the OLD password.
      // A conditional update, as the README asks of a rehash: only over the hash it replaces.
      updatePasswordHash: async (id, passwordHash, context?: { previous: string }) => {
        if (first) { first = false; entered(); await gate }
        if (context !== undefined && users[0]!.passwordHash !== context.previous) return
        return defaults.updatePasswordHash(id, passwordHash)
      }
    })
  })
  t.teardown(() => app.close())

  // Attacker (knows the old password) logs in; the login verified it and is writing the upgraded hash.
  const attackerLogin = post(app, '/auth/login', { username: 'alice', password: OLD_PASSWORD })
  await inRehash
  // Meanwhile the victim resets the password (a compromise response).
  t.equal((await post(app, '/auth/password/forgot', { username: 'alice' })).statusCode, 202)
  const { token } = await app.inbox.next('reset')
  t.equal((await post(app, '/auth/password/reset', { token, password: VICTIM_NEW })).statusCode, 204, 'reset done')
  release()
  const response = await attackerLogin
  t.comment(`attacker login after the reset: ${response.statusCode}`)
  t.equal(response.statusCode, 401, 'a login with the old password that raced the reset is refused')
  if (response.statusCode === 200) {
    const me = await app.inject({ url: '/auth/me', headers: bearer(response.json().access_token) })
    t.comment(`attacker /me: ${me.statusCode}`)
  }
  const victim = await post(app, '/auth/login', { username: 'alice', password: VICTIM_NEW })
  const attacker = await post(app, '/auth/login', { username: 'alice', password: OLD_PASSWORD })
  t.comment(`victim's new password: ${victim.statusCode}; old password: ${attacker.statusCode}`)
  t.equal(victim.statusCode, 200, 'the new password works')
  t.equal(attacker.statusCode, 401, 'the old password no longer works')
})
