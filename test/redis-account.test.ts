// The account flows across instances on a real Redis: two apps, one redisStore each (same
// url and keyPrefix), one user database, a user cache of an hour so that the cache matters.
import t, { type Test } from 'tap'
import { redisStore } from '../lib/redis.js'
import { bearer } from './helpers/app.js'
import { loginRequest, OLD_PASSWORD, seedAccountUsers, type AccountUser } from './helpers/account-app.js'
import { buildHarness, cloneUsers, post, within, type HarnessApp, type HarnessOptions } from './helpers/account-harness.js'
import { eventually } from './helpers/eventually.js'
import { sharedRedis, startRedis, type RedisServer } from './helpers/redis.js'

const NEW_PASSWORD = 'new-password-2'
const server = await sharedRedis()
const seed = await seedAccountUsers()
let prefixes = 0

const me = (app: HarnessApp, accessToken: string) => app.inject({ url: '/auth/me', headers: bearer(accessToken) })
const reset = (app: HarnessApp, token: string, password = NEW_PASSWORD) => post(app, '/auth/password/reset', { token, password })
const refresh = (app: HarnessApp, refreshToken: string) => post(app, '/auth/refresh', { refresh_token: refreshToken })
const live = (app: HarnessApp) => (app.jwtAuth.store as { userInvalidations: { live: boolean } }).userInvalidations.live
const took = (ms: number | undefined) => ms === undefined ? 'not within the limit' : `${ms.toFixed(1)} ms`

/** An app on its own redisStore at `url` under `prefix`, on the shared user records; closed at teardown. */
async function instance (t: Test, url: string, prefix: string, users: AccountUser[], setup: HarnessOptions = {}): Promise<HarnessApp> {
  const store = redisStore({ url, keyPrefix: prefix })
  const app = await buildHarness(store, users, { ...setup, options: { userCacheTtl: '1h', ...setup.options } })
  t.teardown(async () => { await app.close(); await store.close() })
  t.ok(await eventually(() => live(app), 3000), 'the instance\'s subscription is live')
  return app
}

/** Instances A and B on the shared Redis, one prefix, one user database. */
async function twoInstances (t: Test): Promise<{ a: HarnessApp, b: HarnessApp, users: AccountUser[] }> {
  const users = cloneUsers(seed)
  const prefix = `racct${++prefixes}:`
  return { a: await instance(t, server.url, prefix, users), b: await instance(t, server.url, prefix, users), users }
}

t.test('a reset on A logs the user out on B within 50 ms', async (t) => {
  const { a, b } = await twoInstances(t)
  const onB = (await loginRequest(b, 'alice', OLD_PASSWORD)).json()
  const onA = (await loginRequest(a, 'alice', OLD_PASSWORD)).json()
  t.equal((await me(b, onB.access_token)).statusCode, 200, 'B knows its session (and caches the user)')
  t.equal((await me(b, onA.access_token)).statusCode, 200, 'and A\'s')
  await a.jwtAuth.requestPasswordReset('alice')
  const { token } = await a.inbox.next('reset')
  t.equal((await reset(a, token)).statusCode, 204)
  const ms = await eventually(async () => (await me(b, onB.access_token)).statusCode === 401 &&
    (await me(b, onA.access_token)).statusCode === 401, 50, 1)
  t.ok(ms !== undefined, `B refuses both sessions ${took(ms)} after the reset on A (limit 50 ms)`)
  t.equal((await refresh(b, onB.refresh_token)).statusCode, 401, 'B refreshes neither')
  t.equal((await refresh(b, onA.refresh_token)).statusCode, 401)
  t.equal((await loginRequest(b, 'alice', OLD_PASSWORD)).statusCode, 401, 'the old password is refused on B')
  t.equal((await loginRequest(b, 'alice', NEW_PASSWORD)).statusCode, 200, 'the new one works on B')
  t.equal((await reset(b, token, 'another-password')).statusCode, 400, 'the token, spent on A, is spent on B')
})

t.test('a password change on A ends B\'s other sessions within 50 ms; the changing client goes on everywhere', async (t) => {
  const { a, b } = await twoInstances(t)
  const here = (await loginRequest(a, 'alice', OLD_PASSWORD)).json()
  const there = (await loginRequest(b, 'alice', OLD_PASSWORD)).json()
  const alsoThere = (await loginRequest(b, 'alice', OLD_PASSWORD)).json()
  for (const pair of [here, there, alsoThere]) t.equal((await me(b, pair.access_token)).statusCode, 200)
  const changed = await post(a, '/auth/password/change', { currentPassword: OLD_PASSWORD, newPassword: NEW_PASSWORD }, bearer(here.access_token))
  t.equal(changed.statusCode, 200)
  const ms = await eventually(async () => (await me(b, there.access_token)).statusCode === 401 &&
    (await me(b, alsoThere.access_token)).statusCode === 401 && (await me(b, here.access_token)).statusCode === 401, 50, 1)
  t.ok(ms !== undefined, `B refuses the other sessions (and the changing client's old token) ${took(ms)} after the change on A (limit 50 ms)`)
  const kept = changed.json()
  t.equal((await me(b, kept.access_token)).statusCode, 200, 'the new pair works on B')
  t.equal((await refresh(b, kept.refresh_token)).statusCode, 200, 'and refreshes there')
  t.equal((await refresh(b, there.refresh_token)).statusCode, 401)
  t.equal((await loginRequest(b, 'alice', NEW_PASSWORD)).statusCode, 200)
})

t.test('an email verification on A reaches B\'s cached user within 50 ms', async (t) => {
  const { a, b } = await twoInstances(t)
  const bob = (await loginRequest(b, 'bob', OLD_PASSWORD)).json()
  t.equal((await me(b, bob.access_token)).json().emailVerified, false)
  const lookups = b.calls.findById
  t.equal((await me(b, bob.access_token)).json().emailVerified, false)
  t.equal(b.calls.findById, lookups, 'B answers from its cache (userCacheTtl 1h)')
  t.equal((await post(a, '/auth/email/verify/request', {}, bearer(bob.access_token))).statusCode, 202)
  const { token } = await a.inbox.next('verify')
  t.equal((await post(a, '/auth/email/verify', { token })).statusCode, 204)
  const ms = await eventually(async () => (await me(b, bob.access_token)).json().emailVerified === true, 50, 1)
  t.ok(ms !== undefined, `B's /auth/me says emailVerified ${took(ms)} after the verification on A (limit 50 ms)`)
  t.ok(b.calls.findById > lookups, 'B read the user again: its cached copy was dropped')
  t.equal((await post(b, '/auth/email/verify', { token })).statusCode, 400, 'the token, spent on A, is spent on B')
})

t.test('the per-account send limit is one for all instances: eight requests alternating between A and B send three', async (t) => {
  const { a, b } = await twoInstances(t)
  for (let i = 0; i < 8; i++) await (i % 2 === 0 ? a : b).jwtAuth.requestPasswordReset('alice')
  t.equal(a.inbox.messages.length + b.inbox.messages.length, 3)
  t.equal([...a.events, ...b.events].filter((event) => event.reason === 'limited').length, 5)
})

t.test('Redis paused', async (t) => {
  const paused: RedisServer = await startRedis()
  t.teardown(() => paused.stop())
  const STORE_TIMEOUT = { storeTimeout: '500ms' }
  // A reset sent while Redis is frozen; it is thawed whatever the answer, or however long it takes.
  const resetWhilePaused = async (app: HarnessApp, token: string) => {
    paused.pause()
    try {
      return await within(5000, reset(app, token))
    } finally {
      paused.resume()
    }
  }
  const recovered = async (app: HarnessApp, accessToken: string) =>
    t.ok(await eventually(async () => (await me(app, accessToken)).statusCode !== 503, 5000, 50), 'Redis answers again')

  t.test('before a reset: 503, never 2xx; nothing is written', async (t) => {
    const users = cloneUsers(seed)
    const app = await instance(t, paused.url, 'paused-before:', users, { options: STORE_TIMEOUT })
    const session = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
    await app.jwtAuth.requestPasswordReset('alice')
    const { token } = await app.inbox.next('reset')
    const answer = await resetWhilePaused(app, token)
    t.equal(answer.statusCode, 503, `${answer.statusCode} ${answer.body}`)
    t.equal(answer.json().code, 'FST_JWT_AUTH_STORE_UNAVAILABLE')
    t.equal(app.calls.updatePasswordHash, 0, 'no password was written')
    t.equal(users[0]!.passwordHash, seed[0]!.passwordHash)
    await recovered(app, session.access_token)
    t.equal((await me(app, session.access_token)).statusCode, 200, 'the sessions go on: nothing happened')
    t.equal((await loginRequest(app, 'alice', OLD_PASSWORD)).statusCode, 200, 'the old password still works')
  })

  // A take sent to a frozen Redis runs when it wakes: the plugin cannot know whether it ran, so the link may be
  // spent although nothing changed (README: the user asks for a new one). What must hold: no 2xx, and a new link works.
  t.test('before a reset: the link may be spent by the timed-out take; a new request gives one that works', async (t) => {
    const users = cloneUsers(seed)
    const app = await instance(t, paused.url, 'paused-token:', users, { options: STORE_TIMEOUT })
    const session = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
    await app.jwtAuth.requestPasswordReset('alice')
    const { token } = await app.inbox.next('reset')
    const answer = await resetWhilePaused(app, token)
    t.equal(answer.statusCode, 503)
    await recovered(app, session.access_token)
    t.equal((await reset(app, token)).statusCode, 400, 'the timed-out take ran when Redis woke')
    const from = app.inbox.messages.length
    await app.jwtAuth.requestPasswordReset('alice')
    const fresh = await app.inbox.next('reset', from)
    t.equal((await reset(app, fresh.token)).statusCode, 204, 'a new link works')
  })

  t.test('in the middle of a reset (after the new hash is stored): 503, never 2xx; once Redis is back, the old sessions are refused', async (t) => {
    const users = cloneUsers(seed)
    let freezeAfterWrite = false
    const app = await instance(t, paused.url, 'paused-during:', users, {
      options: STORE_TIMEOUT,
      callbacks: (defaults) => ({
        updatePasswordHash: async (id, hash) => {
          await defaults.updatePasswordHash(id, hash)
          if (freezeAfterWrite) paused.pause()
        }
      })
    })
    const session = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
    await app.jwtAuth.requestPasswordReset('alice')
    const { token } = await app.inbox.next('reset')
    freezeAfterWrite = true
    let answer
    try {
      answer = await within(5000, reset(app, token))
    } finally {
      paused.resume()
    }
    t.equal(answer.statusCode, 503, `${answer.statusCode} ${answer.body}`)
    t.equal(app.calls.updatePasswordHash, 1, 'the new hash was stored before Redis froze')
    const ms = await eventually(async () => (await me(app, session.access_token)).statusCode === 401, 5000, 50)
    t.ok(ms !== undefined, `the session from before the reset is refused once Redis is back (${took(ms)})`)
    t.equal((await refresh(app, session.refresh_token)).statusCode, 401, 'and cannot be refreshed')
    t.equal((await loginRequest(app, 'alice', NEW_PASSWORD)).statusCode, 200, 'the new password is the one stored')
    t.equal((await loginRequest(app, 'alice', OLD_PASSWORD)).statusCode, 401)
  })
})
