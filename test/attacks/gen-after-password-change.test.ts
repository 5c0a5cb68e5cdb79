// Attacks on issue 20's generations after POST /password/change keeps the caller's session (its family goes on).
// The kept session used to start a new chain at generation 0, below the family's record: the Redis and key-value
// stores then stopped renewing that record (written only when a rotation raised it), so it expired while the new
// chain was live, and a spent post-change token read as unknown instead of a reuse (the attacker's branch survived);
// and on every store, a post-change token whose record a failover lost was behind the record, taken for a reuse.
import t, { type Test } from 'tap'
import { memoryStore, type AuthEvent, type AuthStore, type KeyValueStore } from '../../lib/index.js'
import { buildAccountApp, loginRequest, OLD_PASSWORD, seedAccountUsers, type AccountApp } from '../helpers/account-app.js'
import { bearer, decodePart, STORE_FACTORIES, type AnyStore } from '../helpers/app.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const NEW_PASSWORD = 'a-new-password-2'
// The family's generation record lives refreshTokenTtl + 1 s (no clockTolerance): 7 s from its last rotation.
const OPTIONS = { accessTokenTtl: '5s', refreshTokenTtl: '6s', refreshGrace: '0s', clockTolerance: 0 }

async function accountApp (t: Test, store: AnyStore): Promise<AccountApp> {
  const app = await buildAccountApp(store, await seedAccountUsers(), { options: OPTIONS, routes: { lockout: false } })
  t.teardown(async () => { await app.close(); await (store as { close?: () => Promise<void> }).close?.() })
  return app
}

/** Drops a refresh token's record, as a failover that lost its write does (a key-value store keeps it at rt:<jti>). */
async function lose (store: AnyStore, fam: string, jti: string): Promise<void> {
  if ('refreshTokens' in store) await (store as AuthStore).refreshTokens.discard(fam, jti)
  else await (store as KeyValueStore).delete(`rt:${jti}`)
}

/** A session rotated three times (the family's generation is 3), then kept by a password change: its new pair. */
async function changedAfterRotations (app: AccountApp, beforeChangeMs = 0) {
  const body = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
  let pair = { accessToken: body.access_token as string, refreshToken: body.refresh_token as string }
  for (let i = 0; i < 3; i++) pair = await app.jwtAuth.refresh(pair.refreshToken)
  const rotatedAt = Date.now()
  await sleep(beforeChangeMs)
  const changed = await app.inject({
    method: 'POST',
    url: '/auth/password/change',
    headers: bearer(pair.accessToken),
    payload: { currentPassword: OLD_PASSWORD, newPassword: NEW_PASSWORD }
  })
  return { before: pair, kept: changed.json().refresh_token as string, rotatedAt, statusCode: changed.statusCode }
}

// The plain key-value shape rotates as the atomic one does, and the account routes need its atomic counters.
for (const { name, create } of STORE_FACTORIES.filter((factory) => factory.name !== 'key-value')) {
  t.test(`${name}: a stolen post-change token the family rotated past is a reuse, after the pre-change record's life`, async (t) => {
    const app = await accountApp(t, await create())
    const { before, kept, rotatedAt, statusCode } = await changedAfterRotations(app, 3500)
    t.equal(statusCode, 200)
    t.equal(decodePart(kept, 1).fam, decodePart(before.refreshToken, 1).fam, 'the session goes on in its family')
    t.equal(decodePart(kept, 1).gen, 4, 'above every generation the family had')
    // The attacker steals the kept token and refreshes first.
    const attacker = await app.jwtAuth.refresh(kept)
    app.events.length = 0
    // The victim comes back once the record of the pre-change rotations would have expired (the kept token is live).
    await sleep(Math.max(0, rotatedAt + 7300 - Date.now()))
    t.ok(Date.now() / 1000 < (decodePart(kept, 1).exp as number), 'the kept token has not expired')
    const victim = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: kept } })
    t.equal(victim.json().code, 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED', 'presenting a spent token is a reuse')
    t.same(app.events.map((event: AuthEvent) => event.type), ['refresh.reuse'])
    await t.rejects(app.jwtAuth.refresh(attacker.refreshToken), { code: 'FST_JWT_AUTH_TOKEN_REVOKED' },
      'the attacker\'s branch is revoked')
  })

  t.test(`${name}: a post-change token whose record a failover lost is unknown, not a reuse`, async (t) => {
    const store = await create()
    const app = await accountApp(t, store)
    const { kept } = await changedAfterRotations(app)
    const next = await app.jwtAuth.refresh(kept)
    const { fam, jti } = decodePart(next.refreshToken, 1) as { fam: string, jti: string }
    await lose(store, fam, jti)
    app.events.length = 0
    await t.rejects(app.jwtAuth.refresh(next.refreshToken), { code: 'FST_JWT_AUTH_REFRESH_TOKEN_UNKNOWN' })
    t.same(app.events.map((event: AuthEvent) => event.type), ['refresh.unknown'], 'no refresh.reuse')
    t.equal((await app.inject({ url: '/auth/me', headers: bearer(next.accessToken) })).statusCode, 200,
      'the session goes on')
  })
}

t.test('a store that keeps no generations: the kept session starts at 0 (a token without a record is a reuse)', async (t) => {
  const memory = memoryStore()
  const { generation, ...refreshTokens } = memory.refreshTokens
  t.type(generation, 'function')
  const app = await accountApp(t, { ...memory, refreshTokens, close: () => memory.close() })
  const { kept, statusCode } = await changedAfterRotations(app)
  t.equal(statusCode, 200)
  t.equal(decodePart(kept, 1).gen, 0)
})
