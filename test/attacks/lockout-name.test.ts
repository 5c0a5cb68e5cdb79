// An attack that must fail: for users without a `username` (login by email), /password/change counts and locks the name `id:<sub>`,
// which is also a login name anyone can type at /login: an anonymous client locks the user's password change,
// and the change's guesses count apart from the login's.
import t from 'tap'
import { hashPassword, memoryStore } from '../../lib/index.js'
import { bearer } from '../helpers/app.js'
import { buildHarness, post } from '../helpers/account-harness.js'

const PASSWORD = 'right-password-1'

t.test('five anonymous logins as "id:1" do not lock the password change of user 1', async (t) => {
  const passwordHash = await hashPassword(PASSWORD)
  const users = [{ id: 1, email: 'alice@example.test', emailVerified: true, passwordHash, roles: [] }] as never[]
  const app = await buildHarness(memoryStore(), users, {
    callbacks: () => ({
      findByLogin: async (login: string) => {
        const user = (users as Array<{ email: string }>).find((candidate) => candidate.email === login)
        return user === undefined ? null : { ...user }
      }
    })
  })
  t.teardown(() => app.close())
  const login = await post(app, '/auth/login', { username: 'alice@example.test', password: PASSWORD })
  t.equal(login.statusCode, 200)
  const access = login.json().access_token as string
  // Anonymous: five failed logins for the login name "id:1" (no such user).
  for (let i = 0; i < 5; i++) await post(app, '/auth/login', { username: 'id:1', password: 'whatever-123' })
  const change = await post(app, '/auth/password/change', { currentPassword: PASSWORD, newPassword: 'new-password-2' }, bearer(access))
  t.comment(`alice's change with the right current password: ${change.statusCode} ${change.json().code ?? ''}`)
  t.equal(change.statusCode, 200, 'an anonymous client cannot lock a user out of /password/change')

  // And the other way: the change's guesses do not count for alice@example.test at /login.
  const fresh = await post(app, '/auth/login', { username: 'alice@example.test', password: change.statusCode === 200 ? 'new-password-2' : PASSWORD })
  const token = fresh.json().access_token as string
  t.comment(`after 4 wrong current passwords at /password/change, /login still allows: ${5} more guesses`)
  for (let i = 0; i < 4; i++) await post(app, '/auth/password/change', { currentPassword: `wrong-${i}-xxxx`, newPassword: 'new-password-3' }, bearer(token))
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) statuses.push((await post(app, '/auth/login', { username: 'alice@example.test', password: `wrong-l${i}-xxx` })).statusCode)
  t.comment(`/login statuses after 4 change failures: ${statuses.join(',')}`)
})
