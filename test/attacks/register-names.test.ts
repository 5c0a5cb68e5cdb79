// Attacks that must fail ("A new user's first hour", findings 11 and 12): register took any name that
// findByLogin did not find exactly, so `Alice`, `alicé`, `alice\u200b` and `alice ` registered next to `alice`;
// and it looked the name up, hashed the password, then created, so five registrations of one new name at once made
// five accounts. Now register refuses names with spaces around them or hidden characters (400
// FST_JWT_AUTH_INVALID_USERNAME), users.create keeps the folded name unique (the kit's fakeUsers does), and its
// refusal is the documented 409.
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import jwtAuth, { foldLogin, memoryStore, UsernameTakenError, type AuthEvent, type JwtAuthUsers } from '../../lib/index.js'
import { fakeUsers } from '../../lib/testing.js'
import { SECRET } from '../helpers/app.js'
import { buildRoutesApp } from '../helpers/routes-app.js'

const PASSWORD = 'a-long-enough-password'
const INVALID = 'FST_JWT_AUTH_INVALID_USERNAME'
const TAKEN = 'FST_JWT_AUTH_USERNAME_TAKEN'

/** A name as the test output can show it: every character outside printable ASCII escaped. */
const shown = (name: string): string =>
  name.replace(/[^\x20-\x7E]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`)

async function registerApp (t: Test, users: JwtAuthUsers) {
  const store = memoryStore()
  const events: AuthEvent[] = []
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET, store, users, routes: { captcha: false }, rateLimit: false, onEvent: (event) => { events.push(event) }
  })
  t.teardown(() => app.close())
  const register = (username: string) =>
    app.inject({ method: 'POST', url: '/auth/register', payload: { username, password: PASSWORD } })
  return { app, store, events, register }
}

t.test('foldLogin: what look-alikes of a name share', async (t) => {
  for (const name of ['alice', 'Alice', 'ALICE', 'alic\u00E9', 'alice\u0301', '\uFF41\uFF4C\uFF49\uFF43\uFF45', 'alice\u200B', ' alice ', 'al\u00ADice']) {
    t.equal(foldLogin(name), 'alice', shown(name))
  }
  t.equal(foldLogin('Mary \u00A0 Jane'), 'mary jane', 'spaces collapsed')
  t.equal(foldLogin('\uFB01le'), 'file', 'a ligature, decomposed')
  t.equal(foldLogin(foldLogin('\u212Aelvin')), foldLogin('\u212Aelvin'), 'folding a folded name changes nothing')
})

t.test('register refuses a look-alike of an existing name, and names with hidden characters', async (t) => {
  const users = fakeUsers([{ id: 1, username: 'alice', roles: [] }, { id: 2, username: 'Bob', roles: [] }])
  const { events, register } = await registerApp(t, users)
  const refused: Array<[string, number, string]> = [
    // Look-alikes: found by the folded lookup (alice), or refused by create's folded unique name (Bob).
    ['Alice', 409, TAKEN],
    ['alic\u00E9', 409, TAKEN],
    ['\uFF41\uFF4C\uFF49\uFF43\uFF45', 409, TAKEN],
    ['bob', 409, TAKEN],
    ['BOB', 409, TAKEN],
    ['b\u00F6b', 409, TAKEN],
    // Names a reader cannot tell apart from another.
    ['alice\u200B', 400, INVALID],
    ['alice ', 400, INVALID],
    [' alice', 400, INVALID],
    ['\u3000carol', 400, INVALID],
    ['ali\u0000ce', 400, INVALID],
    ['ali\nce', 400, INVALID],
    ['ali\u202Ece', 400, INVALID],
    ['ali\u2028ce', 400, INVALID],
    ['ali\u3164ce', 400, INVALID],
    ['ali\uD800ce', 400, INVALID],
    ['\uDC00', 400, INVALID],
    ['\u0301\u0301', 400, INVALID]
  ]
  for (const [username, status, code] of refused) {
    const response = await register(username)
    t.equal(response.statusCode, status, `${shown(username)}: ${response.statusCode} ${response.json().code}`)
    t.equal(response.json().code, code)
  }
  t.match((await register('alice ')).json().message, /must not start or end with a space/)
  t.match((await register('ali\u200Bce')).json().message, /must not contain invisible or control characters/)
  t.match((await register('\u0301')).json().message, /must have a visible character/)
  t.equal(events.filter((event) => event.type === 'register').length, 0, 'no account was made')
  for (const [username] of refused) t.equal(await users.findByLogin(username), null, `${shown(username)}: no record`)

  const carol = await register('Mary Jane')
  t.equal(carol.statusCode, 201, 'a space inside a name is fine')
  t.match(await users.findByLogin('Mary Jane'), { id: 3, username: 'Mary Jane' }, 'stored as given')
  t.equal((await register('mary  jane')).statusCode, 409, 'and its look-alikes are taken')
})

t.test('with a lookup that matches exactly and a create without a folded index, the route still refuses', async (t) => {
  const stored = [{ id: 1, username: 'alice', passwordHash: 'not-a-hash', roles: [] }]
  const app = await buildRoutesApp({ users: stored, create: true, routes: { captcha: false }, options: { rateLimit: false } })
  t.teardown(() => app.close())
  const expected: Array<[string, number]> = [
    ['Alice', 409], // the folded lookup finds alice
    ['ALIC\u00C9', 409],
    ['alice\u200B', 400],
    ['alice ', 400],
    [' alice', 400],
    ['ali\u0000ce', 400],
    ['ali\uD800ce', 400]
  ]
  for (const [username, status] of expected) {
    const response = await app.inject({ method: 'POST', url: '/auth/register', payload: { username, password: PASSWORD } })
    t.equal(response.statusCode, status, shown(username))
  }
  t.same(stored.map((user) => user.username), ['alice'], 'no look-alike was created')
  t.same(app.calls.findByLogin, ['Alice', 'alice', 'ALIC\u00C9', 'alice'], 'the name as typed, then folded')
})

t.test('five registrations of one new name at once: one account, four 409s', async (t) => {
  const users = fakeUsers<{ id: number | string, username?: string, roles?: string[] }>([])
  const { store, events, register } = await registerApp(t, users)
  const answers = await Promise.all(Array.from({ length: 5 }, () => register('dup')))
  const statuses = answers.map((answer) => answer.statusCode).sort()
  t.same(statuses, [201, 409, 409, 409, 409])
  for (const answer of answers.filter((response) => response.statusCode === 409)) {
    t.same(answer.json(), { statusCode: 409, code: TAKEN, error: 'Conflict', message: 'This username is already taken' })
  }
  t.equal(events.filter((event) => event.type === 'register').length, 1, 'one register event')
  // The losers gave their reserved session back: the race holds what one registration holds.
  const afterRace = store.size
  t.equal((await register('solo')).statusCode, 201)
  t.equal(store.size - afterRace, afterRace, 'one session\'s entries, not five')
})

t.test('users.create\'s refusal is the documented 409: UsernameTakenError, or any error with its code', async (t) => {
  const made: string[] = []
  const coded = Object.assign(new Error('duplicate key value violates unique constraint "users_login_key"'), { code: TAKEN })
  const refusals: Record<string, unknown> = { taken: new UsernameTakenError(), coded }
  const { store, events, register } = await registerApp(t, {
    findByLogin: async () => null,
    create: async ({ username }) => {
      if (Object.hasOwn(refusals, username)) throw refusals[username]
      made.push(username)
      return { id: made.length }
    }
  })
  for (const username of Object.keys(refusals)) {
    const response = await register(username)
    t.same(response.json(), { statusCode: 409, code: TAKEN, error: 'Conflict', message: 'This username is already taken' }, username)
  }
  t.equal(store.size, 0, 'each reservation was given back')
  t.same(events.filter((event) => event.type === 'register'), [], 'no register event')
  t.equal((await register('fine')).statusCode, 201)
})
