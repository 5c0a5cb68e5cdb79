// .mts, not .ts: the repository's own tap glob (test/**/*.test.ts) must not pick this file up.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { build } from './app.js'

process.env.JWT_SECRET ??= 'a-test-secret-of-at-least-thirty-two-bytes'

test('on Redis: a token issued, a request authenticated, a revocation enforced', async (t) => {
  const app = await build(process.env.REDIS_URL!)
  t.after(() => app.close())
  const pair = await app.jwtAuth.issue({ id: 1 })
  const me = () => app.inject({ url: '/me', headers: { authorization: `Bearer ${pair.accessToken}` } })
  assert.equal((await me()).statusCode, 200)
  await app.jwtAuth.revoke(pair.refreshToken)
  assert.equal((await me()).statusCode, 401)
})

test('a Redis that is not there: register fails, naming it', async () => {
  await assert.rejects(build('redis://127.0.0.1:1', '200ms'), {
    code: 'FST_JWT_AUTH_STORE_UNREACHABLE',
    message: /Redis at 127\.0\.0\.1:1 is not reachable/
  })
})
