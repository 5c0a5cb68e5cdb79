import t from 'tap'
import { memoryStore } from '../lib/index.js'
import { appOnStore, bearer, buildApp, decodePart, STORE_FACTORIES, USERS } from './helpers/app.js'
import { fakeClock } from './helpers/clock.js'
import { keyValueStore } from './helpers/kv-store.js'
import { buildRoutesApp, PASSWORDS, seedUsers } from './helpers/routes-app.js'

for (const { name, create } of STORE_FACTORIES) {
  t.test(`sessions (${name} store)`, async (t) => {
    const users = [...USERS, { id: 4, username: 'dan', roles: [] }, { id: 5, username: 'eve', roles: [] }]
    const app = await appOnStore(t, create, { users })
    const family = (token: string): string => decodePart(token, 1).fam as string

    t.test('each login is a session with its request details; newest use first', async (t) => {
      const laptop = await app.jwtAuth.issue({ id: 1 }, { metadata: { ip: '10.0.0.1', userAgent: 'Laptop/1.0' } })
      await new Promise((resolve) => setTimeout(resolve, 5))
      const phone = await app.jwtAuth.issue({ id: 1 }, { metadata: { ip: '10.0.0.2', userAgent: 'x'.repeat(1000) } })
      await app.jwtAuth.issue({ id: 2 })
      const sessions = await app.jwtAuth.sessions(1)
      t.equal(sessions.length, 2, 'only user 1\'s sessions')
      t.same(sessions.map((session) => session.familyId), [family(phone.accessToken), family(laptop.accessToken)])
      t.match(sessions[1], { ip: '10.0.0.1', userAgent: 'Laptop/1.0' })
      t.equal(sessions[0]!.userAgent!.length, 256, 'request details are bounded')
      for (const session of sessions) {
        t.match(session.createdAt, /^\d{4}-\d\d-\d\dT/)
        t.ok(Date.parse(session.expiresAt) > Date.now() + 6 * 24 * 3600_000, 'expires with the refresh token (7 days)')
      }
      t.same(await app.jwtAuth.sessions('404'), [], 'a user without sessions')
    })

    t.test('a refresh updates lastRefreshedAt and the request details, not createdAt', async (t) => {
      const login = await app.jwtAuth.issue({ id: 3 }, { metadata: { ip: '1.1.1.1' } })
      const [before] = await app.jwtAuth.sessions(3)
      await new Promise((resolve) => setTimeout(resolve, 10))
      await app.jwtAuth.refresh(login.refreshToken, { ip: '2.2.2.2', userAgent: 'After/2' })
      const [after] = await app.jwtAuth.sessions(3)
      t.equal(after!.familyId, before!.familyId, 'the same session')
      t.equal(after!.createdAt, before!.createdAt)
      t.ok(after!.lastRefreshedAt > before!.lastRefreshedAt)
      t.match(after, { ip: '2.2.2.2', userAgent: 'After/2' })
      const noDetails = await app.jwtAuth.issue({ id: 3 })
      t.notOk('ip' in (await app.jwtAuth.sessions(3)).find((session) => session.familyId === family(noDetails.accessToken))!)
    })

    t.test('revokeSession ends one session; others stay', async (t) => {
      const first = await app.jwtAuth.issue({ id: 4 })
      const second = await app.jwtAuth.issue({ id: 4 })
      t.equal(await app.jwtAuth.revokeSession(4, family(first.accessToken)), true)
      t.equal((await app.inject({ url: '/me', headers: bearer(first.accessToken) })).statusCode, 401, 'its access token is revoked')
      await t.rejects(app.jwtAuth.refresh(first.refreshToken), { code: 'FST_JWT_AUTH_TOKEN_REVOKED' })
      t.equal((await app.inject({ url: '/me', headers: bearer(second.accessToken) })).statusCode, 200, 'the other session lives')
      t.same((await app.jwtAuth.sessions(4)).map((session) => session.familyId), [family(second.accessToken)])
      t.equal(await app.jwtAuth.revokeSession(4, 'no-such-family'), false)
      t.equal(await app.jwtAuth.revokeSession(1, family(second.accessToken)), false, 'another user\'s session is not yours to end')
      t.equal(await app.jwtAuth.revokeSession(4, 42 as unknown as string), false)
      t.equal((await app.jwtAuth.sessions(4)).length, 1)
    })

    t.test('revoke, refresh reuse and revokeAll take sessions off the list', async (t) => {
      const a = await app.jwtAuth.issue({ id: 5 })
      const b = await app.jwtAuth.issue({ id: 5 })
      const c = await app.jwtAuth.issue({ id: 5 })
      await app.jwtAuth.revoke(a.accessToken)
      const b2 = await app.jwtAuth.refresh(b.refreshToken)
      await app.jwtAuth.refresh(b2.refreshToken) // the successor was used: b's grace is over
      await t.rejects(app.jwtAuth.refresh(b.refreshToken), { code: 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED' })
      t.same((await app.jwtAuth.sessions(5)).map((session) => session.familyId), [family(c.accessToken)])
      await app.jwtAuth.revokeAll(5)
      t.same(await app.jwtAuth.sessions(5), [])
      const after = await app.jwtAuth.issue({ id: 5 })
      t.same((await app.jwtAuth.sessions(5)).map((session) => session.familyId), [family(after.accessToken)], 'a login after revokeAll is listed')
    })
  })
}

t.test('expired sessions leave the list (and the index)', async (t) => {
  const clock = fakeClock(t)
  const store = memoryStore()
  t.teardown(() => store.close())
  const app = await buildApp(store, { options: { refreshTokenTtl: '1h' } })
  t.teardown(() => app.close())
  await app.jwtAuth.issue({ id: 1 })
  clock.now += 30 * 60_000
  const recent = await app.jwtAuth.issue({ id: 1 })
  clock.now += 31 * 60_000
  t.same((await app.jwtAuth.sessions(1)).map((session) => session.familyId), [decodePart(recent.accessToken, 1).fam])
  t.same(Object.keys(await store.sessions.list('1')), [decodePart(recent.accessToken, 1).fam], 'the expired one was dropped from the index')
})

t.test('a key-value store without hash operations: sessions live in one value per user', async (t) => {
  const store = keyValueStore()
  const app = await buildApp(store)
  t.teardown(() => app.close())
  const first = await app.jwtAuth.issue({ id: 1 })
  const second = await app.jwtAuth.issue({ id: 1 })
  const families = [first, second].map((pair) => decodePart(pair.accessToken, 1).fam as string)
  t.same((await app.jwtAuth.sessions(1)).map((session) => session.familyId).sort(), [...families].sort())
  t.same(Object.keys(JSON.parse((await store.get('ses:1'))!)).sort(), [...families].sort(), 'one JSON value')
  t.equal(await app.jwtAuth.revokeSession(1, families[0]!), true)
  t.same((await app.jwtAuth.sessions(1)).map((session) => session.familyId), [families[1]])
  t.ok(await app.jwtAuth.refresh(second.refreshToken))
  await app.jwtAuth.revokeAll(1)
  t.same(await app.jwtAuth.sessions(1), [])
})

t.test('the routes record the client ip and user agent', async (t) => {
  const app = await buildRoutesApp({ users: await seedUsers(), routes: { captcha: false }, options: { rateLimit: false } })
  t.teardown(() => app.close())
  const login = await app.inject({ method: 'POST', url: '/auth/login', headers: { 'user-agent': 'Test-Agent/3' }, payload: { username: 'alice', password: PASSWORDS.alice } })
  const [session] = await app.jwtAuth.sessions(1)
  t.match(session, { ip: '127.0.0.1', userAgent: 'Test-Agent/3' })
  await app.inject({ method: 'POST', url: '/auth/refresh', headers: { 'user-agent': 'Refresher/1' }, payload: { refresh_token: login.json().refresh_token } })
  t.match((await app.jwtAuth.sessions(1))[0], { userAgent: 'Refresher/1' })
})

t.test('revocation epochs: a store without advance, and epochs written by 0.1.0', async (t) => {
  // get/set only: the plugin reads, then writes max(current + 1, now).
  const inner = keyValueStore()
  const app = await buildApp(inner)
  t.teardown(() => app.close())
  const me = async (token: string) => (await app.inject({ url: '/me', headers: bearer(token) })).statusCode

  const first = await app.jwtAuth.issue({ id: 1 })
  await app.jwtAuth.revokeAll(1)
  const epoch = Number(await inner.get('usr:1'))
  t.ok(epoch >= Date.now() - 1000, 'the epoch is a time in ms')
  const second = await app.jwtAuth.issue({ id: 1 })
  await app.jwtAuth.revokeAll(1) // within the same millisecond as likely as not: still a higher epoch
  t.ok(Number(await inner.get('usr:1')) > epoch, 'every revokeAll raises the epoch')
  t.same([await me(first.accessToken), await me(second.accessToken)], [401, 401])
  t.equal(await me((await app.jwtAuth.issue({ id: 1 })).accessToken), 200)

  // 0.1.0 kept a random string as the epoch: tokens of another epoch stay revoked, its own still work.
  await inner.set('usr:2', 'f47ac10b-58cc-4372-a567-0e02b3c479d0', 60)
  const legacy = await app.jwtAuth.issue({ id: 2 })
  t.equal(decodePart(legacy.accessToken, 1).ep, 'f47ac10b-58cc-4372-a567-0e02b3c479d0')
  t.equal(await me(legacy.accessToken), 200, 'a token of the current (old-style) epoch works')
  const beforeAny = await app.jwtAuth.issue({ id: 3 }) // no epoch yet: the token carries none
  await inner.set('usr:3', 'f47ac10b-58cc-4372-a567-0e02b3c479d0', 60) // as 0.1.0's revokeAll left it
  t.equal(await me(beforeAny.accessToken), 401, 'a token from before an old-style revokeAll is revoked')
  await app.jwtAuth.revokeAll(2) // over an old-style epoch: the new one is numeric
  t.ok(Number.isSafeInteger(Number(await inner.get('usr:2'))), 'replaced by a numeric epoch')
  t.equal(await me(legacy.accessToken), 401, 'and the old-style token is revoked')
})
