// `npm run example` and `npm run example:quickstart`, as the README's set-up runs them (test/helpers/example-server.ts):
// each must answer within the deadline, with the plugin loaded from source.
import { Redis } from 'ioredis'
import t from 'tap'
import { passkeySettings } from '../examples/server.js'
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

t.test('npm run example serves its passkeys page to browsers, and @simplewebauthn/browser from node_modules', async (t) => {
  const { base } = await start(t, 'example')
  const navigation = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }
  const page = await fetch(`${base}/`, { headers: navigation })
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /^text\/html/, 'a browser opening the home page gets the page')
  t.match(await page.text(), /<script type="module" src="\/passkeys-demo\/page\.js">/)
  const script = await fetch(`${base}/passkeys-demo/page.js`)
  t.match(script.headers.get('content-type'), /^text\/javascript/)
  t.match(await script.text(), /from '\.\/simplewebauthn\/index\.js'/)
  const library = await fetch(`${base}/passkeys-demo/simplewebauthn/index.js`)
  t.equal(library.status, 200)
  t.match(library.headers.get('content-type'), /^text\/javascript/)
  t.match(await library.text(), /export \* from '\.\/methods\/startRegistration\.js'/, 'the ES modules it ships')
  const nested = await fetch(`${base}/passkeys-demo/simplewebauthn/methods/startAuthentication.js`)
  t.equal(nested.status, 200, 'and the modules they import')
  for (const path of ['simplewebauthn/../../package.json', 'simplewebauthn/%2e%2e/package.json', 'simplewebauthn/index.d.ts',
    'simplewebauthn/', 'nothing.js']) {
    t.equal((await fetch(`${base}/passkeys-demo/${path}`)).status, 404, `${path}: only the library's .js files`)
  }
  t.match(await (await fetch(`${base}/`, { headers: { accept: 'application/json' } })).json(), { hello: 'world' },
    'an API client still gets JSON')
  const openapi = await (await fetch(`${base}/docs/json`)).json() as { paths: Record<string, unknown> }
  t.notOk(Object.keys(openapi.paths).some((path) => path.startsWith('/passkeys-demo')), 'the page\'s files are not API')
})

t.test('npm run example with REDIS_URL: the Redis store (fastify-jwt-auth/redis), loaded only then', async (t) => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const { base, output } = await start(t, 'example', { logLevel: 'info', env: { REDIS_URL: server.url } })
  t.match(output(), /"msg":"store: redis"/)
  t.equal((await fetch(`${base}/auth/captcha`)).status, 200, 'a captcha: its answer is kept in Redis')
  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  t.ok(await admin.exists('jwt-auth-example:{ephemeral}:values'), 'under the example\'s key prefix')
})

t.test('the example\'s passkeys: localhost on PORT by default, PASSKEY_RP_ID and PASSKEY_ORIGINS otherwise', async (t) => {
  t.match(passkeySettings({}), { rpID: 'localhost', origins: ['http://localhost:3000'] }, 'http://localhost:3000')
  t.match(passkeySettings({ PORT: '8080' }), { rpID: 'localhost', origins: ['http://localhost:8080'] })
  t.match(passkeySettings({ PASSKEY_RP_ID: 'example.com', PASSKEY_ORIGINS: 'https://example.com, https://app.example.com' }),
    { rpID: 'example.com', origins: ['https://example.com', 'https://app.example.com'] })
  t.match(passkeySettings({ PASSKEY_ORIGINS: ' , ' }), { origins: ['http://localhost:3000'] }, 'an empty list is none')
})

t.test('npm run example:quickstart answers on HOST/PORT', async (t) => {
  const { base } = await start(t, 'example:quickstart')
  const home = await fetch(`${base}/`)
  t.same(await home.json(), { hello: 'world' })
  const me = await fetch(`${base}/me`)
  t.equal(me.status, 401)
  t.equal(me.headers.get('www-authenticate'), 'Bearer realm="example-api"')
})
