import t from 'tap'
import { ACCESS_HEADER, accessClaims, bearer, buildApp, craftToken } from './helpers/app.js'
import { fakeClock } from './helpers/clock.js'

const now = (): number => Math.floor(Date.now() / 1000)

t.test('clockTolerance (seconds) gives leeway on exp and nbf, and no more', async (t) => {
  const app = await buildApp(undefined, { options: { clockTolerance: 30 } })
  t.teardown(() => app.close())
  const status = async (claims: Record<string, unknown>): Promise<number> =>
    (await app.inject({ url: '/me', headers: bearer(craftToken(ACCESS_HEADER, accessClaims(claims))) })).statusCode
  t.equal(await status({ exp: now() - 10 }), 200, 'expired 10 s ago, within 30 s tolerance')
  t.equal(await status({ exp: now() - 60 }), 401, 'expired 60 s ago')
  t.equal(await status({ nbf: now() + 10 }), 200, 'valid in 10 s, within tolerance')
  t.equal(await status({ nbf: now() + 60 }), 401, 'valid in 60 s')
})

t.test('with the default tolerance of 0, a token is refused the second after exp', async (t) => {
  const app = await buildApp(undefined)
  t.teardown(() => app.close())
  const status = async (claims: Record<string, unknown>): Promise<number> =>
    (await app.inject({ url: '/me', headers: bearer(craftToken(ACCESS_HEADER, accessClaims(claims))) })).statusCode
  t.equal(await status({ exp: now() - 2 }), 401)
  t.equal(await status({ nbf: now() + 2 }), 401)
  t.equal(await status({ exp: now() + 2, nbf: now() - 2 }), 200)
})

t.test('issued tokens expire after accessTokenTtl', async (t) => {
  const clock = fakeClock(t)
  const app = await buildApp(undefined, { options: { accessTokenTtl: '1m', refreshTokenTtl: '2m' } })
  t.teardown(() => app.close())
  const pair = await app.jwtAuth.issue({ id: 1 })
  clock.now += 59_000
  t.equal((await app.inject({ url: '/me', headers: bearer(pair.accessToken) })).statusCode, 200)
  clock.now += 2_000
  const expired = await app.inject({ url: '/me', headers: bearer(pair.accessToken) })
  t.equal(expired.statusCode, 401)
  t.equal(expired.headers['www-authenticate'], 'Bearer realm="test-api", error="invalid_token", error_description="The token has expired"')
  const rotated = await app.jwtAuth.refresh(pair.refreshToken)
  t.equal((await app.inject({ url: '/me', headers: bearer(rotated.accessToken) })).statusCode, 200, 'the refresh token outlives the access token')
  clock.now += 121_000
  await t.rejects(app.jwtAuth.refresh(rotated.refreshToken), { code: 'FST_JWT_AUTH_TOKEN_EXPIRED' })
})
