// An attack that must fail ("A new user's first hour", finding 11): the lockout counted failures per folded login
// name, and a success reset that shared count. An attacker who owns a look-alike of `alice` (`Alice`, `alicé`,
// `alice\u200b`, `alice `: registered before register refused them, or through an adapter without a unique
// folded name) guessed four times at alice, logged in once as the look-alike (or changed its password), and
// started again: 32 guesses and never locked. Now every guess at alice also counts under alice's account, which
// only alice's own success forgives.
import t from 'tap'
import { hashPassword } from '../../lib/index.js'
import { STORE_FACTORIES } from '../helpers/app.js'
import { buildRoutesApp, PASSWORDS, seedUsers, type RoutesApp } from '../helpers/routes-app.js'

const MAX_FAILURES = 5
const LOOKALIKE_PASSWORD = 'lookalike-password-0'
const LOOKALIKES = ['Alice', 'alic\u00E9', 'alice\u200B', 'alice ']

const seeded = await seedUsers()
const lookalikeHash = await hashPassword(LOOKALIKE_PASSWORD)

const login = (app: RoutesApp, username: string, password: string) =>
  app.inject({ method: 'POST', url: '/auth/login', payload: { username, password } })

for (const { name, create } of STORE_FACTORIES.filter((factory) => ['memory', 'redis'].includes(factory.name))) {
  t.test(`a look-alike's success never forgives alice's failures (${name} store)`, async (t) => {
    const build = async (lookalike: string) => {
      const store = await create()
      const users = [...seeded.map((user) => ({ ...user })), { id: 3, username: lookalike, passwordHash: lookalikeHash, roles: [] }]
      const app = await buildRoutesApp({
        users,
        routes: { captcha: false, lockout: { maxFailures: MAX_FAILURES, window: '10m', duration: '5m' } },
        options: { rateLimit: false, store }
      })
      t.teardown(async () => { await app.close(); await store.close?.() })
      return app
    }

    for (const lookalike of LOOKALIKES) {
      t.test(`four guesses at alice, a login as ${JSON.stringify(lookalike).replace('\u200B', '\\u200B')}, again and again`, async (t) => {
        const app = await build(lookalike)
        const guesses: number[] = []
        const lookalikeLogins: number[] = []
        for (let round = 0; round < 8; round++) {
          for (let i = 0; i < 4; i++) guesses.push((await login(app, 'alice', `guess-${round}-${i}-x`)).statusCode)
          lookalikeLogins.push((await login(app, lookalike, LOOKALIKE_PASSWORD)).statusCode)
        }
        t.same(guesses, [...Array(MAX_FAILURES).fill(401), ...Array(32 - MAX_FAILURES).fill(429)], `locked after ${MAX_FAILURES} guesses`)
        t.equal(lookalikeLogins[0], 200, 'the look-alike logged in (and reset what it could)')
        const right = await login(app, 'alice', PASSWORDS.alice)
        t.equal(right.statusCode, 429, 'alice is locked, right password or not')
        t.equal(right.json().code, 'FST_JWT_AUTH_ACCOUNT_LOCKED')
        t.equal((await login(app, 'bob', PASSWORDS.bob)).statusCode, 200, 'another account is not')
      })
    }

    t.test('the same through /password/change on the look-alike', async (t) => {
      const app = await build('alic\u00E9')
      let password = LOOKALIKE_PASSWORD
      let token = (await login(app, 'alic\u00E9', password)).json().access_token as string
      const guesses: number[] = []
      const changes: number[] = []
      for (let round = 0; round < 8; round++) {
        for (let i = 0; i < 4; i++) guesses.push((await login(app, 'alice', `guess-${round}-${i}-x`)).statusCode)
        const next = `lookalike-password-${round + 1}`
        const change = await app.inject({
          method: 'POST',
          url: '/auth/password/change',
          headers: { authorization: `Bearer ${token}` },
          payload: { currentPassword: password, newPassword: next }
        })
        changes.push(change.statusCode)
        if (change.statusCode === 200) {
          password = next
          token = change.json().access_token
        }
      }
      t.same(changes, Array(8).fill(200), 'the look-alike changed its password every round (its own account)')
      t.same(guesses, [...Array(MAX_FAILURES).fill(401), ...Array(32 - MAX_FAILURES).fill(429)], `locked after ${MAX_FAILURES} guesses`)
      t.equal((await login(app, 'alice', PASSWORDS.alice)).statusCode, 429)
    })

    t.test('alice\'s own success forgives her typos: a few, then the right password, again and again', async (t) => {
      const app = await build('Alice')
      const answers: number[] = []
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < MAX_FAILURES - 1; i++) answers.push((await login(app, 'alice', `typo-${round}-${i}-x`)).statusCode)
        answers.push((await login(app, 'alice', PASSWORDS.alice)).statusCode)
      }
      t.same(answers, Array(4).fill([...Array(MAX_FAILURES - 1).fill(401), 200]).flat(), 'never locked')
      // A success as the look-alike did not forgive alice's failures, and hers does not forgive the look-alike's.
      for (let i = 0; i < MAX_FAILURES - 1; i++) await login(app, 'Alice', `guess-${i}-xx`)
      t.equal((await login(app, 'alice', PASSWORDS.alice)).statusCode, 200)
      t.equal((await login(app, 'Alice', 'guess-last-x')).statusCode, 401, 'the look-alike\'s last allowed failure')
      t.equal((await login(app, 'Alice', LOOKALIKE_PASSWORD)).statusCode, 429, 'locked: alice\'s success did not forgive it')
    })
  })
}
