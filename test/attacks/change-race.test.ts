// An attack that must fail: a session holder who knows the current password starts /password/change; the victim's reset lands
// while the change is between its current-password check and its write: the attacker's password and session win.
import t from 'tap'
import { memoryStore } from '../../lib/index.js'
import { bearer } from '../helpers/app.js'
import { OLD_PASSWORD, seedAccountUsers } from '../helpers/account-app.js'
import { buildHarness, cloneUsers, post } from '../helpers/account-harness.js'

const VICTIM_NEW = 'victim-new-password'
const ATTACKER_NEW = 'attacker-password-9'

t.test('a password change racing a reset is refused: the reset stands, no session is kept', async (t) => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let entered!: () => void
  const inPolicy = new Promise<void>((resolve) => { entered = resolve })
  const app = await buildHarness(memoryStore(), cloneUsers(await seedAccountUsers()), {
    routes: {
      // An async policy, e.g. a breached-password (HIBP) lookup over the network: a few hundred ms.
      passwordPolicy: async (password: string) => {
        if (password === ATTACKER_NEW) { entered(); await gate }
        return undefined
      }
    }
  })
  t.teardown(() => app.close())

  const login = await post(app, '/auth/login', { username: 'alice', password: OLD_PASSWORD })
  t.equal(login.statusCode, 200)
  const attackerAccess = login.json().access_token as string

  // Attacker: change, with the (stolen) current password; it passes the current-password check.
  const changing = post(app, '/auth/password/change', { currentPassword: OLD_PASSWORD, newPassword: ATTACKER_NEW }, bearer(attackerAccess))
  await inPolicy
  // Victim: forgot + reset, completes while the change is in flight.
  await post(app, '/auth/password/forgot', { username: 'alice' })
  const { token } = await app.inbox.next('reset')
  t.equal((await post(app, '/auth/password/reset', { token, password: VICTIM_NEW })).statusCode, 204, 'victim reset: 204')
  t.equal((await app.inject({ url: '/auth/me', headers: bearer(attackerAccess) })).statusCode, 401, 'the reset ended the attacker session')
  release()
  const changed = await changing
  t.comment(`attacker change after the reset: ${changed.statusCode}`)
  t.not(changed.statusCode, 200, 'a change whose session was ended by a reset is refused')
  if (changed.statusCode === 200) {
    const me = await app.inject({ url: '/auth/me', headers: bearer(changed.json().access_token) })
    t.comment(`attacker /me with the pair from the change: ${me.statusCode}`)
    const refreshed = await post(app, '/auth/refresh', { refresh_token: changed.json().refresh_token })
    t.comment(`attacker /refresh with the pair from the change: ${refreshed.statusCode}`)
  }
  const victim = await post(app, '/auth/login', { username: 'alice', password: VICTIM_NEW })
  const attacker = await post(app, '/auth/login', { username: 'alice', password: ATTACKER_NEW })
  t.comment(`victim's reset password: ${victim.statusCode}; attacker's password: ${attacker.statusCode}`)
  t.equal(victim.statusCode, 200, 'the reset password works')
  t.equal(attacker.statusCode, 401, 'the attacker password does not')
})

t.test('revokeAll ("log out everywhere") while a change is in flight: the change is refused', async (t) => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let entered!: () => void
  const inPolicy = new Promise<void>((resolve) => { entered = resolve })
  const app = await buildHarness(memoryStore(), cloneUsers(await seedAccountUsers()), {
    routes: { passwordPolicy: async (password: string) => { if (password === ATTACKER_NEW) { entered(); await gate } } }
  })
  t.teardown(() => app.close())
  const login = await post(app, '/auth/login', { username: 'alice', password: OLD_PASSWORD })
  const changing = post(app, '/auth/password/change', { currentPassword: OLD_PASSWORD, newPassword: ATTACKER_NEW }, bearer(login.json().access_token))
  await inPolicy
  await app.jwtAuth.revokeAll(1)
  release()
  const changed = await changing
  const me = changed.statusCode === 200 ? (await app.inject({ url: '/auth/me', headers: bearer(changed.json().access_token) })).statusCode : 0
  t.comment(`change after revokeAll: ${changed.statusCode}; its new access token at /me: ${me}`)
  t.not(changed.statusCode, 200, 'a session revoked mid-change gets no new pair')
})
