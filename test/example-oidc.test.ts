// `npm run example:oidc` as the docs give it: the example starts a development OpenID Provider of its own over
// https (a CA the example makes with openssl, trusted through NODE_EXTRA_CA_CERTS) and signs in with it. Here the
// CA is the test's (the example finds its files in DEV_CA_DIR), so that this process trusts the provider too.
// A cookie jar walks the flow: the app's sign-in route, the provider's login form, the callback, the landing page,
// the exchange of the one-time code.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Browser } from './helpers/browser.js'
import { childEnv, freePort, startExample } from './helpers/example-server.js'
import { signInAt } from './helpers/oidc-provider.js'
import { underTestCa } from './helpers/test-ca.js'

const tls = await underTestCa(t, import.meta.url)

if (tls !== undefined) {
  t.test('npm run example:oidc: sign in as alice (linked by her address), as a new user, as dana (then TOTP)', async (t) => {
    const providerPort = await freePort()
    const issuer = `https://127.0.0.1:${providerPort}`
    const example = await startExample(t, 'example:oidc', {
      logLevel: 'info', env: { DEV_CA_DIR: tls.dir, DEV_OIDC_PORT: String(providerPort) }
    })
    t.match(example.output(), /Sign in with the development provider: http:\/\/localhost:\d+\/auth\/oauth\/dev/)
    // The base URL the example gives the provider (and where its attempt cookie lives): localhost.
    const base = example.base.replace('127.0.0.1', 'localhost')

    async function signIn (browser: Browser, account: string) {
      const begin = await browser.request(`${base}/auth/oauth/dev`)
      t.equal(new URL(begin.location!).origin, issuer, '302 to the development provider')
      const back = await signInAt(browser, begin.location!, account, issuer)
      const callback = await browser.request(back.location!)
      t.equal(callback.status, 302, `the callback: ${callback.status}`)
      const landing = new URL(callback.location!)
      t.equal(`${landing.origin}${landing.pathname}`, `${base}/signed-in`, 'to the landing page')
      const page = await browser.request(landing.href)
      t.match(page.body, /\/auth\/oauth\/exchange/, 'whose script spends the code')
      return await browser.request(`${base}/auth/oauth/exchange`, { json: { code: landing.searchParams.get('code') } })
    }
    const me = async (pair: { access_token: string }) =>
      await (await fetch(`${base}/auth/me`, { headers: { authorization: `Bearer ${pair.access_token}` } })).json()

    const alice = await signIn(new Browser(), 'alice')
    t.equal(alice.status, 200, 'alice: the pair')
    t.match(await me(JSON.parse(alice.body)), { username: 'alice', roles: ['admin', 'user'] },
      'the provider\'s verified alice@example.test is the seeded alice, who verified it too')

    const erin = await signIn(new Browser(), 'erin')
    t.equal(erin.status, 200, 'erin: the pair')
    t.match(await me(JSON.parse(erin.body)), { username: /^dev-[0-9a-f]{12}$/, email: 'erin@example.test' },
      'a new user, created at the first sign-in')

    const dana = await signIn(new Browser(), 'dana')
    t.match(JSON.parse(dana.body), { mfa_required: true, methods: ['totp', 'recovery_code'] },
      'dana\'s TOTP still applies after a provider sign-in')
    t.match(example.output(), /auth event: oauth\.login/)
  })
}

t.test('the script\'s first step makes the development CA once, and a certificate for localhost it signed', async (t) => {
  if (tls !== undefined) return // in the child under the test CA: done by the parent
  const dir = join(mkdtempSync(join(tmpdir(), 'example-dev-ca-')), 'dev-ca')
  t.teardown(() => rmSync(join(dir, '..'), { recursive: true, force: true }))
  const make = () => execFileSync('npx', ['tsx', 'examples/dev-provider.ts'], { env: childEnv({ DEV_CA_DIR: dir }), stdio: 'pipe' })
  make()
  for (const file of ['ca.crt', 'server.key', 'server.crt']) t.ok(existsSync(join(dir, file)), file)
  const verified = execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'server.crt')]).toString()
  t.match(verified, /server\.crt: OK/)
  t.match(execFileSync('openssl', ['x509', '-in', join(dir, 'server.crt'), '-noout', '-ext', 'subjectAltName']).toString(),
    /DNS:localhost, IP Address:127\.0\.0\.1/)
  const first = execFileSync('openssl', ['x509', '-in', join(dir, 'ca.crt'), '-noout', '-fingerprint']).toString()
  make()
  t.equal(execFileSync('openssl', ['x509', '-in', join(dir, 'ca.crt'), '-noout', '-fingerprint']).toString(), first,
    'a second start keeps the CA the browser may already trust')
})
