import t from 'tap'
import { createVerifyCache } from '../lib/tokens/verify-cache.js'
import { bearer, buildApp } from './helpers/app.js'
import { fakeClock } from './helpers/clock.js'

t.test('a cached token stops at its exp (plus tolerance), and is revoked all the same', async (t) => {
  const clock = fakeClock(t)
  const app = await buildApp(undefined, { options: { accessTokenTtl: '1m', clockTolerance: 5 } })
  t.teardown(() => app.close())
  const pair = await app.jwtAuth.issue({ id: 1 })
  const me = async () => (await app.inject({ url: '/me', headers: bearer(pair.accessToken) })).statusCode
  t.equal(await me(), 200, 'verified, now cached')
  clock.now += 64_000
  t.equal(await me(), 200, 'within exp + tolerance')
  clock.now += 2_000
  t.equal(await me(), 401, 'past exp + tolerance, even though it was cached')
  const second = await app.jwtAuth.issue({ id: 1 })
  t.equal((await app.inject({ url: '/me', headers: bearer(second.accessToken) })).statusCode, 200)
  await app.jwtAuth.revoke(second.accessToken)
  t.equal((await app.inject({ url: '/me', headers: bearer(second.accessToken) })).statusCode, 401, 'a cached token is still revoked')
})

t.test('the cache: bounded, keyed by the exact token, returning copies', async (t) => {
  const cache = createVerifyCache<{ exp: number, sub: string }>(2, 0)
  const exp = Math.floor(Date.now() / 1000) + 60
  cache.set('a', { exp, sub: 'a' })
  cache.set('b', { exp, sub: 'b' })
  cache.set('c', { exp, sub: 'c' })
  t.equal(cache.get('a'), undefined, 'the oldest entry went first')
  t.equal(cache.get('b')?.sub, 'b')
  t.equal(cache.get('b '), undefined, 'no near matches')
  const copy = cache.get('c')!
  copy.sub = 'changed'
  t.equal(cache.get('c')?.sub, 'c', 'a caller changing its claims does not change the cache')
})

t.test('the cache keeps entries in use across a generation change', async (t) => {
  const cache = createVerifyCache<{ exp: number, sub: string }>(4, 0)
  const exp = Math.floor(Date.now() / 1000) + 60
  cache.set('hot', { exp, sub: 'hot' })
  cache.set('a', { exp, sub: 'a' })
  cache.set('b', { exp, sub: 'b' }) // 'hot' and 'a' now in the previous generation
  t.equal(cache.get('hot')?.sub, 'hot', 'a hit in the previous generation moves it forward')
  cache.set('c', { exp, sub: 'c' })
  cache.set('d', { exp, sub: 'd' })
  t.equal(cache.get('hot')?.sub, 'hot', 'still there after another change')
  t.equal(cache.get('a'), undefined, 'an unused old entry went with its generation')
  const expired = createVerifyCache<{ exp: number }>(4, 0)
  expired.set('old', { exp: Math.floor(Date.now() / 1000) - 1 })
  expired.set('x', { exp })
  expired.set('y', { exp })
  t.equal(expired.get('old'), undefined, 'an expired entry is not served from the previous generation either')
})

t.test('size 0: no cache', async (t) => {
  const cache = createVerifyCache<{ exp: number }>(0, 0)
  cache.set('a', { exp: Math.floor(Date.now() / 1000) + 60 })
  t.equal(cache.get('a'), undefined)
})
