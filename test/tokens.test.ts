import t from 'tap'
import { bearer, appOnStore, buildApp, decodePart, STORE_FACTORIES } from './helpers/app.js'
import { keyValueStore } from './helpers/kv-store.js'

for (const { name, create, atomicRotation } of STORE_FACTORIES) {
  t.test(`tokens (${name} store)`, async (t) => {
    const app = await appOnStore(t, create)
    const me = async (token: string) => app.inject({ url: '/me', headers: bearer(token) })

    t.test('issue returns a typed pair with unique ids and the configured claims', async (t) => {
      const pair = await app.jwtAuth.issue({ id: 1, roles: ['admin'] }, { claims: { tenant: 'acme' } })
      t.equal(pair.tokenType, 'Bearer')
      t.equal(pair.expiresIn, 900, 'default access ttl: 15 minutes, in seconds')
      t.equal(pair.refreshExpiresIn, 7 * 24 * 3600, 'default refresh ttl: 7 days')
      const access = decodePart(pair.accessToken, 1)
      const refresh = decodePart(pair.refreshToken, 1)
      t.same(decodePart(pair.accessToken, 0), { alg: 'HS256', typ: 'at+jwt' })
      t.same(decodePart(pair.refreshToken, 0), { alg: 'HS256', typ: 'rt+jwt' })
      t.equal(access.sub, '1')
      t.same(access.roles, ['admin'])
      t.equal(access.tenant, 'acme')
      t.equal(access.iss, 'test-api')
      t.equal(access.aud, 'test-app')
      t.equal((access.exp as number) - (access.iat as number), 900)
      t.equal((refresh.exp as number) - (refresh.iat as number), 7 * 24 * 3600)
      t.equal(access.fam, refresh.fam, 'both tokens belong to one family')
      t.notOk(refresh.tenant, 'the refresh token carries no profile claims')
      t.not(access.jti, refresh.jti)

      const jtis = new Set<unknown>()
      const families = new Set<unknown>()
      for (let i = 0; i < 50; i++) {
        const next = await app.jwtAuth.issue({ id: 1 })
        jtis.add(decodePart(next.accessToken, 1).jti)
        jtis.add(decodePart(next.refreshToken, 1).jti)
        families.add(decodePart(next.accessToken, 1).fam)
      }
      t.equal(jtis.size, 100, 'every token has its own jti')
      t.equal(families.size, 50, 'every login starts its own family')
    })

    t.test('issue refuses registered claims and bad users', async (t) => {
      for (const claim of ['sub', 'exp', 'iat', 'jti', 'iss', 'aud', 'nbf', 'fam', 'ep']) {
        await t.rejects(app.jwtAuth.issue({ id: 1 }, { claims: { [claim]: 'x' } }), { message: new RegExp(`the ${claim} claim is set by the plugin`) })
      }
      await t.rejects(app.jwtAuth.issue({ id: 1 }, { claims: { roles: 'admin' } }), /claims.roles must be an array of strings/)
      await t.rejects(app.jwtAuth.issue({ id: 1 }, { claims: 'x' as unknown as Record<string, unknown> }), /claims must be an object/)
      await t.rejects(app.jwtAuth.issue({ id: '' }), /user.id must be a non-empty string or a number/)
      await t.rejects(app.jwtAuth.issue({} as { id: string }), /user.id/)
      await t.rejects(app.jwtAuth.issue(null as unknown as { id: string }), /user.id/)
    })

    t.test('claims.roles are used when the user has none', async (t) => {
      const pair = await app.jwtAuth.issue({ id: 7 }, { claims: { roles: ['auditor'] } })
      t.same(decodePart(pair.accessToken, 1).roles, ['auditor'])
      const noRoles = await app.jwtAuth.issue({ id: 7 })
      t.notOk('roles' in decodePart(noRoles.accessToken, 1))
    })

    t.test('verify returns the claims of an access token and refuses a refresh token', async (t) => {
      const pair = await app.jwtAuth.issue({ id: 2, roles: ['user'] })
      const claims = await app.jwtAuth.verify(pair.accessToken)
      t.equal(claims.sub, '2')
      t.same(claims.roles, ['user'])
      await t.rejects(app.jwtAuth.verify(pair.refreshToken), {
        code: 'FST_JWT_AUTH_WRONG_TOKEN_TYPE',
        statusCode: 401,
        headers: { 'www-authenticate': 'Bearer realm="test-api", error="invalid_token", error_description="An access token is required"' }
      })
    })

    t.test('refresh rotates: a new pair in the same family, the old refresh token spent', async (t) => {
      const first = await app.jwtAuth.issue({ id: 1, roles: ['admin'] }, { claims: { tenant: 'acme' } })
      const second = await app.jwtAuth.refresh(first.refreshToken)
      t.not(second.refreshToken, first.refreshToken)
      t.not(second.accessToken, first.accessToken)
      const access = decodePart(second.accessToken, 1)
      t.equal(access.fam, decodePart(first.accessToken, 1).fam, 'same family')
      t.equal(access.tenant, 'acme', 'profile claims survive rotation')
      t.same(access.roles, ['admin'], 'roles come from findById')
      t.equal((await me(second.accessToken)).statusCode, 200)
      t.equal((await me(first.accessToken)).statusCode, 200, 'the old access token lives until it expires')

      const third = await app.jwtAuth.refresh(second.refreshToken)
      t.equal((await me(third.accessToken)).statusCode, 200, 'rotation goes on')
    })

    t.test('an access token cannot refresh', async (t) => {
      const pair = await app.jwtAuth.issue({ id: 1 })
      await t.rejects(app.jwtAuth.refresh(pair.accessToken), { code: 'FST_JWT_AUTH_WRONG_TOKEN_TYPE', message: 'A refresh token is required' })
    })

    t.test('reuse of a spent refresh token revokes the whole family (RFC 9700 4.14)', async (t) => {
      const login = await app.jwtAuth.issue({ id: 1 })
      const rotated = await app.jwtAuth.refresh(login.refreshToken)
      // The successor was used: the first token's grace is over, presenting it again is a reuse.
      const latest = await app.jwtAuth.refresh(rotated.refreshToken)
      const other = await app.jwtAuth.issue({ id: 1 }) // another login of the same user

      await t.rejects(app.jwtAuth.refresh(login.refreshToken), {
        code: 'FST_JWT_AUTH_REFRESH_TOKEN_REUSED',
        statusCode: 401,
        headers: { 'www-authenticate': /error="invalid_token"/ }
      })
      t.equal((await me(latest.accessToken)).json().code, 'FST_JWT_AUTH_TOKEN_REVOKED', 'descendant access token revoked')
      t.equal((await me(login.accessToken)).statusCode, 401, 'ancestor access token revoked')
      await t.rejects(app.jwtAuth.refresh(latest.refreshToken), { code: 'FST_JWT_AUTH_TOKEN_REVOKED' }, 'descendant refresh token revoked')
      t.equal((await me(other.accessToken)).statusCode, 200, 'other families of the user are untouched')
      t.ok(await app.jwtAuth.refresh(other.refreshToken))
    })

    t.test('within the grace, a spent refresh token gets the same successor again', async (t) => {
      const login = await app.jwtAuth.issue({ id: 1 })
      const first = await app.jwtAuth.refresh(login.refreshToken)
      const again = await app.jwtAuth.refresh(login.refreshToken)
      t.same(again, first, 'the same pair, re-signed from the stored claims (HS256 signs alike)')
      t.equal((await me(first.accessToken)).statusCode, 200, 'the family is not revoked')
      t.ok(await app.jwtAuth.refresh(first.refreshToken), 'and the successor refreshes')
    })

    t.test('of many concurrent refreshes with one token, one successor is minted and all get it', { skip: atomicRotation === false && 'a key-value store rotates with take, then set' }, async (t) => {
      const login = await app.jwtAuth.issue({ id: 1 })
      const results = await Promise.all(Array.from({ length: 20 }, () => app.jwtAuth.refresh(login.refreshToken)))
      t.equal(new Set(results.map((pair) => pair.refreshToken)).size, 1, 'one refresh token')
      t.equal(new Set(results.map((pair) => decodePart(pair.accessToken, 1).jti)).size, 1, 'one access token id')
      t.equal((await me(results[0]!.accessToken)).statusCode, 200)
      t.equal((await app.jwtAuth.sessions(1)).filter((session) => session.familyId === decodePart(login.accessToken, 1).fam).length, 1)
    })

    t.test('revoke(access token) ends the token and its family', async (t) => {
      const login = await app.jwtAuth.issue({ id: 1 })
      const other = await app.jwtAuth.issue({ id: 1 })
      await app.jwtAuth.revoke(login.accessToken)
      t.equal((await me(login.accessToken)).json().code, 'FST_JWT_AUTH_TOKEN_REVOKED')
      await t.rejects(app.jwtAuth.refresh(login.refreshToken), { code: 'FST_JWT_AUTH_TOKEN_REVOKED' })
      await t.rejects(app.jwtAuth.verify(login.accessToken), { code: 'FST_JWT_AUTH_TOKEN_REVOKED' })
      t.equal((await me(other.accessToken)).statusCode, 200)
    })

    t.test('revoke(refresh token) ends the family too, and accepts an expired or rotated token', async (t) => {
      const login = await app.jwtAuth.issue({ id: 1 })
      const rotated = await app.jwtAuth.refresh(login.refreshToken)
      await app.jwtAuth.revoke(login.refreshToken) // already spent: still names the family
      t.equal((await me(rotated.accessToken)).statusCode, 401)
      await t.rejects(app.jwtAuth.refresh(rotated.refreshToken), { code: 'FST_JWT_AUTH_TOKEN_REVOKED' })
    })

    t.test('revoke refuses a forged token', async (t) => {
      const login = await app.jwtAuth.issue({ id: 1 })
      const [head, body] = login.accessToken.split('.')
      await t.rejects(app.jwtAuth.revoke(`${head}.${body}.AAAA`), { code: 'FST_JWT_AUTH_INVALID_TOKEN', headers: { 'www-authenticate': /invalid_token/ } })
      t.equal((await me(login.accessToken)).statusCode, 200, 'nothing was revoked')
    })

    t.test('revokeAll ends every token of the user issued so far; one issued right after works', async (t) => {
      const a = await app.jwtAuth.issue({ id: 2 })
      const b = await app.jwtAuth.issue({ id: 2 })
      const rotated = await app.jwtAuth.refresh(b.refreshToken)
      const otherUser = await app.jwtAuth.issue({ id: 1 })
      await app.jwtAuth.revokeAll(2)
      const after = await app.jwtAuth.issue({ id: 2 }) // same second as the revocation
      for (const token of [a.accessToken, b.accessToken, rotated.accessToken]) {
        t.equal((await me(token)).json().code, 'FST_JWT_AUTH_TOKEN_REVOKED')
      }
      await t.rejects(app.jwtAuth.refresh(rotated.refreshToken), { code: 'FST_JWT_AUTH_TOKEN_REVOKED' })
      await t.rejects(app.jwtAuth.refresh(a.refreshToken), { code: 'FST_JWT_AUTH_TOKEN_REVOKED' })
      t.equal((await me(after.accessToken)).statusCode, 200, 'a token issued right after works')
      const afterRotated = await app.jwtAuth.refresh(after.refreshToken)
      t.equal((await me(afterRotated.accessToken)).statusCode, 200, 'and so does its rotation')
      t.equal((await me(otherUser.accessToken)).statusCode, 200, 'other users are untouched')

      await app.jwtAuth.revokeAll('2') // a second revokeAll also ends the tokens made after the first
      t.equal((await me(afterRotated.accessToken)).statusCode, 401)
    })

    t.test('refresh of a user findById no longer finds is refused', async (t) => {
      const ghost = await app.jwtAuth.issue({ id: 404 })
      await t.rejects(app.jwtAuth.refresh(ghost.refreshToken), { code: 'FST_JWT_AUTH_USER_NOT_FOUND' })
    })
  })
}

t.test('without findById, refresh keeps the roles given at issue', async (t) => {
  const app = await buildApp(undefined, { findById: false })
  t.teardown(() => app.close())
  const login = await app.jwtAuth.issue({ id: 'x', roles: ['reader'] })
  const rotated = await app.jwtAuth.refresh(login.refreshToken)
  t.same(decodePart(rotated.accessToken, 1).roles, ['reader'])
  const noRoles = await app.jwtAuth.refresh((await app.jwtAuth.issue({ id: 'y' })).refreshToken)
  t.notOk('roles' in decodePart(noRoles.accessToken, 1))
})

t.test('refresh picks up role changes from findById', async (t) => {
  const users = [{ id: 1, username: 'alice', roles: ['user'] }]
  const app = await buildApp(undefined, { users, options: { userCacheTtl: 0 } })
  t.teardown(() => app.close())
  const login = await app.jwtAuth.issue(users[0]!)
  users[0] = { id: 1, username: 'alice', roles: ['user', 'admin'] }
  const rotated = await app.jwtAuth.refresh(login.refreshToken)
  t.same(decodePart(rotated.accessToken, 1).roles, ['user', 'admin'])
  users[0] = { id: 1, username: 'alice', roles: undefined as unknown as string[] }
  const again = await app.jwtAuth.refresh(rotated.refreshToken)
  t.notOk('roles' in decodePart(again.accessToken, 1))
})

t.test('a refresh record that does not match its token is refused', async (t) => {
  const store = keyValueStore()
  const app = await buildApp(store)
  t.teardown(() => app.close())
  const login = await app.jwtAuth.issue({ id: 1 })
  await store.set(`rt:${decodePart(login.refreshToken, 1).jti as string}`, `L${JSON.stringify({ sub: '2', fam: 'other' })}`, 60)
  await t.rejects(app.jwtAuth.refresh(login.refreshToken), { code: 'FST_JWT_AUTH_INVALID_TOKEN' })
  const second = await app.jwtAuth.issue({ id: 1 })
  await store.set(`rt:${decodePart(second.refreshToken, 1).jti as string}`, 'L{not json', 60)
  await t.rejects(app.jwtAuth.refresh(second.refreshToken), { code: 'FST_JWT_AUTH_INVALID_TOKEN' })
  const third = await app.jwtAuth.issue({ id: 1 })
  await store.set(`rt:${decodePart(third.refreshToken, 1).jti as string}`, `S${Date.now() + 60_000} {"refresh":{"fam":"another"}}`, 60)
  await t.rejects(app.jwtAuth.refresh(third.refreshToken), { code: 'FST_JWT_AUTH_INVALID_TOKEN' }, 'a successor of another family')
  await store.set(`rt:${decodePart(third.refreshToken, 1).jti as string}`, `S${Date.now() + 60_000} {not json`, 60)
  await t.rejects(app.jwtAuth.refresh(third.refreshToken), { code: 'FST_JWT_AUTH_INVALID_TOKEN' })
  await store.set(`rt:${decodePart(third.refreshToken, 1).jti as string}`, `S${Date.now() + 60_000} {}`, 60)
  await t.rejects(app.jwtAuth.refresh(third.refreshToken), { code: 'FST_JWT_AUTH_INVALID_TOKEN' })
  const fam = decodePart(third.refreshToken, 1).fam as string
  await store.set(`rt:${decodePart(third.refreshToken, 1).jti as string}`, `S${Date.now() + 60_000} {"refresh":{"fam":"${fam}"}}`, 60)
  await t.rejects(app.jwtAuth.refresh(third.refreshToken), { code: 'FST_JWT_AUTH_INVALID_TOKEN' })
})

t.test('custom ttls are honoured', async (t) => {
  const app = await buildApp(undefined, { options: { accessTokenTtl: 60, refreshTokenTtl: '1h' } })
  t.teardown(() => app.close())
  const pair = await app.jwtAuth.issue({ id: 1 })
  t.equal(pair.expiresIn, 60)
  t.equal(pair.refreshExpiresIn, 3600)
  const access = decodePart(pair.accessToken, 1)
  t.equal((access.exp as number) - (access.iat as number), 60)
})
