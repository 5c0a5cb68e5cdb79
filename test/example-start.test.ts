// `npm run example` and `npm run example:quickstart`, as the README's set-up runs them (test/helpers/example-server.ts):
// each must answer within the deadline, with the plugin loaded from source.
import { Redis } from 'ioredis'
import t from 'tap'
import { startExample as start } from './helpers/example-server.js'
import { startRedis } from './helpers/redis.js'

t.test('npm run example answers on HOST/PORT, with the plugin loaded from source', async (t) => {
  const { base } = await start(t, 'example')
  const home = await fetch(`${base}/`)
  t.equal(home.status, 200)
  t.match(await home.json(), { hello: 'world', docs: '/docs' })
  const profile = await fetch(`${base}/api/profile`)
  t.equal(profile.status, 401, 'a protected route')
  t.equal(profile.headers.get('www-authenticate'), 'Bearer realm="fastify-jwt-auth-example"')
  const captcha = await fetch(`${base}/auth/captcha`)
  t.equal(captcha.status, 200, 'the plugin\'s routes')
  t.equal((await fetch(`${base}/docs/json`)).status, 200, 'Swagger')
})

t.test('npm run example with REDIS_URL: the Redis store (fastify-jwt-auth/redis), loaded only then', async (t) => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const { base, output } = await start(t, 'example', { logLevel: 'info', env: { REDIS_URL: server.url } })
  t.match(output(), /"msg":"store: redis"/)
  t.equal((await fetch(`${base}/auth/captcha`)).status, 200, 'a captcha: its answer is kept in Redis')
  const admin = new Redis(server.url)
  t.teardown(() => admin.quit())
  t.ok(await admin.exists('jwt-auth-example:{ephemeral}:values'), 'under the example\'s key prefix')
})

t.test('npm run example:quickstart answers on HOST/PORT', async (t) => {
  const { base } = await start(t, 'example:quickstart')
  const home = await fetch(`${base}/`)
  t.same(await home.json(), { hello: 'world' })
  const me = await fetch(`${base}/me`)
  t.equal(me.status, 401)
  t.equal(me.headers.get('www-authenticate'), 'Bearer realm="example-api"')
})
