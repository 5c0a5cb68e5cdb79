// Hostile sign-ins with providers (issue 24), over real HTTPS: each answered with the right 4xx, or 502/503 for a
// provider that is down or hangs (bounded by oauth.timeout), never a 500 or a hang; an oauth.failure event with its
// reason and no code or token. A real OpenID Provider (oidc-provider) for state, cookie and PKCE attacks; a
// provider of the test's own for ID tokens wrong one way each, and for GitHub's API shape.
import { createServer } from 'node:net'
import t from 'tap'
import { underTestCa } from '../helpers/test-ca.js'
import { Browser } from '../helpers/browser.js'
import { signInAt } from '../helpers/oidc-provider.js'
import { startFakeProvider } from '../helpers/fake-provider.js'
import { appAndProvider, startOAuthApp } from '../helpers/oauth-app.js'
import { freePort } from '../helpers/redis.js'

const tls = await underTestCa(t, import.meta.url)

if (tls !== undefined) {
  const { address, op } = await appAndProvider(t, tls)
  const fake = await startFakeProvider(tls)
  const downPort = await freePort()
  // Accepts connections and never answers.
  const hanging = createServer(() => {})
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve))
  const hangPort = (hanging.address() as { port: number }).port
  t.teardown(async () => { await fake.close(); hanging.close() })

  const app = await startOAuthApp(tls, address, {
    providers: {
      test: { issuer: op.issuer, clientId: 'app', clientSecret: 'a-client-secret' },
      fake: { issuer: fake.issuer, clientId: 'fake-app', clientSecret: 's' },
      github: { issuer: fake.issuer, apiUrl: `${fake.issuer}/api`, clientId: 'gh-app', clientSecret: 's', linkVerifiedEmail: true },
      down: { issuer: `https://127.0.0.1:${downPort}`, clientId: 'x' },
      slow: { issuer: `https://127.0.0.1:${hangPort}`, clientId: 'x' }
    },
    successRedirect: '/welcome',
    timeout: '500ms'
  })
  t.teardown(() => app.close())
  const url = (path: string) => `${app.baseUrl}/auth${path}`
  const failure = () => app.events.filter((event) => event.type === 'oauth.failure').at(-1)
  const noSecrets = () => {
    const text = JSON.stringify(app.events)
    return !/eyJ|code=|[\w-]{43}/.test(text)
  }

  /** Up to the provider's redirect back to the app (not followed). */
  async function toCallback (browser: Browser, provider: string, account = 'mallory') {
    const begin = await browser.request(url(`/oauth/${provider}`))
    if (provider === 'test') return (await signInAt(browser, begin.location!, account, op.issuer)).location!
    return (await browser.request(begin.location!)).location!
  }

  t.test('the state: missing, forged, replayed, or of another browser (login CSRF): 400, no sign-in', async (t) => {
    const browser = new Browser()
    const callback = await toCallback(browser, 'test')
    const withState = (state: string) => { const forged = new URL(callback); forged.searchParams.set('state', state); return forged.href }
    const noState = new URL(callback)
    noState.searchParams.delete('state')
    for (const target of [noState.href, withState('x'), withState('A'.repeat(43))]) {
      const hop = await browser.request(target)
      t.equal(hop.status, 400)
      t.match(JSON.parse(hop.body), { code: 'FST_JWT_AUTH_OAUTH_STATE' })
    }
    t.match(failure(), { reason: 'state', provider: 'test' })
    // The attacker's own callback URL, opened in the victim's browser (which has no attempt cookie, or another's).
    const victim = new Browser()
    await victim.request(url('/oauth/test'))
    const csrf = await victim.request(callback)
    t.equal(csrf.status, 400, 'another browser\'s attempt')
    t.match(JSON.parse(csrf.body), { message: /another browser/ })
    const replay = await browser.request(callback)
    t.equal(replay.status, 400, 'the attempt was spent by that try: the attacker cannot use it either')

    const fresh = new Browser()
    const ok = await toCallback(fresh, 'test')
    const first = await fresh.request(ok)
    t.equal(first.status, 302)
    fresh.cookies(app.baseUrl).set('__Host-oauth_attempt', 'A'.repeat(43))
    const again = await fresh.request(ok)
    t.equal(again.status, 400, 'a replayed callback')
    const wrongProvider = await fresh.request(url(`/oauth/fake/callback?state=${new URL(ok).searchParams.get('state')}`))
    t.equal(wrongProvider.status, 400)
    t.ok(noSecrets(), 'no code, state or token in the events')
  })

  t.test('a state of one provider at another\'s callback; an unknown provider', async (t) => {
    const browser = new Browser()
    const callback = new URL(await toCallback(browser, 'test'))
    const elsewhere = await browser.request(url(`/oauth/fake/callback${callback.search}`))
    t.equal(elsewhere.status, 400)
    t.match(JSON.parse(elsewhere.body), { code: 'FST_JWT_AUTH_OAUTH_STATE', message: /another provider/ })
    for (const path of ['/oauth/nope', '/oauth/nope/callback?state=x', '/oauth/constructor', '/oauth/__proto__']) {
      const hop = await browser.request(url(path))
      t.equal(hop.status, 404, path)
      t.match(JSON.parse(hop.body), { code: 'FST_JWT_AUTH_OAUTH_UNKNOWN_PROVIDER' })
    }
    t.match(failure(), { reason: 'unknown_provider' })
  })

  t.test('a code of another attempt (PKCE verifier mismatch); the provider\'s error response: 401', async (t) => {
    const browser = new Browser()
    const mine = new URL(await toCallback(browser, 'test', 'pkce-victim'))
    // A second attempt in the same browser: its state and cookie, with the first attempt's code.
    const theirs = new URL(await toCallback(browser, 'test', 'pkce-victim'))
    theirs.searchParams.set('code', mine.searchParams.get('code')!)
    const hop = await browser.request(theirs.href)
    t.equal(hop.status, 401)
    t.match(JSON.parse(hop.body), { code: 'FST_JWT_AUTH_OAUTH_SIGN_IN_FAILED' })
    t.match(failure(), { reason: 'token_refused' })

    const denied = new Browser()
    const begin = await denied.request(url('/oauth/test'))
    const state = new URL(begin.location!).searchParams.get('state')!
    const error = await denied.request(url(`/oauth/test/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(op.issuer)}`))
    t.equal(error.status, 401)
    t.match(failure(), { reason: 'provider_error' })
  })

  t.test('ID tokens wrong one way each: 401, no sign-in', async (t) => {
    const now = Math.floor(Date.now() / 1000)
    const cases: Array<[string, typeof fake.idToken]> = [
      ['another audience', { claims: { aud: 'someone-else' } }],
      ['another issuer', { claims: { iss: 'https://evil.example.test' } }],
      ['a wrong nonce', { claims: { nonce: 'not-the-one' } }],
      ['no nonce', { claims: { nonce: undefined } }],
      ['expired', { claims: { exp: now - 3600, iat: now - 7200 } }],
      ['signed by an unknown key', { unknownKey: true }],
      ['alg: none', { unsigned: true }]
    ]
    for (const [name, changes] of cases) {
      fake.idToken = changes
      const browser = new Browser()
      const hop = await browser.request(await toCallback(browser, 'fake'))
      t.equal(hop.status, 401, name)
      t.match(JSON.parse(hop.body), { code: 'FST_JWT_AUTH_OAUTH_SIGN_IN_FAILED' }, name)
      t.match(failure(), { reason: 'id_token_invalid', provider: 'fake' }, name)
    }
    fake.idToken = {}
    fake.tokenStatus = 500
    const broken = new Browser()
    const failing = await broken.request(await toCallback(broken, 'fake'))
    t.equal(failing.status, 502, 'a token endpoint answering 500: the provider is broken')
    t.match(JSON.parse(failing.body), { code: 'FST_JWT_AUTH_OAUTH_PROVIDER_ERROR' })
    fake.tokenStatus = 200
    const browser = new Browser()
    const ok = await browser.request(await toCallback(browser, 'fake'))
    t.equal(ok.status, 302, 'the same provider, a good ID token: signed in')
    t.ok(noSecrets())
  })

  t.test('a provider that is down (503) or hangs (503 within oauth.timeout), never a 500 or a hang', async (t) => {
    const browser = new Browser()
    const down = await browser.request(url('/oauth/down'))
    t.equal(down.status, 503)
    t.match(JSON.parse(down.body), { code: 'FST_JWT_AUTH_OAUTH_PROVIDER_UNAVAILABLE' })
    t.match(failure(), { reason: 'provider_unavailable', provider: 'down' })
    const started = Date.now()
    const slow = await browser.request(url('/oauth/slow'))
    t.equal(slow.status, 503)
    t.ok(Date.now() - started < 5000, 'answered within the timeout')
  })

  t.test('GitHub: plain OAuth 2.0, its user and primary verified address', async (t) => {
    const octo = await app.users.create({ username: 'octo', passwordHash: 'h', email: 'octo@example.test' }) as { id: string }
    await app.users.markEmailVerified(octo.id)
    const browser = new Browser()
    const begin = await browser.request(url('/oauth/github'))
    const authorize = new URL(begin.location!)
    t.equal(`${authorize.origin}${authorize.pathname}`, `${fake.issuer}/login/oauth/authorize`)
    t.notOk(authorize.searchParams.has('nonce'), 'no nonce: no ID token')
    t.equal(authorize.searchParams.get('scope'), 'read:user user:email')
    const hop = await browser.request((await browser.request(begin.location!)).location!)
    t.equal(hop.status, 302)
    const code = new URL(hop.location!).searchParams.get('code')
    const pair = JSON.parse((await browser.request(url('/oauth/exchange'), { json: { code } })).body)
    const me = JSON.parse((await browser.request(`${app.baseUrl}/private`, { headers: { authorization: `Bearer ${pair.access_token}` } })).body)
    t.equal(me.user.id, octo.id, 'linked by the verified primary address')
    t.match(me.claims, { amr: ['fed'], idp: 'github' })
    t.match(await app.users.listIdentities(octo.id), [{ provider: 'github', subject: '4242' }])

    fake.github = { user: { id: 'not-a-number' }, emails: [], status: 200 }
    const bad = new Browser()
    t.equal((await bad.request(await toCallback(bad, 'github'))).status, 401, 'a user without a numeric id')
    t.match(failure(), { reason: 'profile_invalid' })
    fake.github = { user: {}, emails: [], status: 500 }
    const broken = new Browser()
    t.equal((await broken.request(await toCallback(broken, 'github'))).status, 502, 'GitHub failing')
    fake.github = { user: {}, emails: [], status: 403 }
    const refused = new Browser()
    t.equal((await refused.request(await toCallback(refused, 'github'))).status, 401, 'GitHub refusing the token')
    fake.github = { user: { id: 7 }, emails: { message: 'not a list' }, status: 200 }
    const noEmail = new Browser()
    const created = await noEmail.request(await toCallback(noEmail, 'github'))
    t.equal(created.status, 302, 'no address: a new user without one')
    // The user is deleted between the callback and the exchange.
    const code2 = new URL(created.location!).searchParams.get('code')
    const newest = await app.db.selectFrom('users').select('id').where('email', 'is', null).orderBy('created_at', 'desc').executeTakeFirstOrThrow()
    await app.db.deleteFrom('users').where('id', '=', newest.id).execute()
    t.equal((await noEmail.request(url('/oauth/exchange'), { json: { code: code2 } })).status, 400, 'a code of a user gone')
  })

  t.test('the exchange: an unknown, malformed or replayed code is a 400', async (t) => {
    for (const code of ['A'.repeat(43), 'short', '']) {
      const hop = await new Browser().request(url('/oauth/exchange'), { json: { code } })
      t.equal(hop.status, 400, JSON.stringify(code))
    }
    t.match(failure(), { reason: 'code' })
  })
}
