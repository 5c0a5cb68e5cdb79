// Sign in with an OpenID Provider (issue 24), full flows over real HTTPS with a cookie jar: oidc-provider started
// here under a test CA, the app's own routes, kyselyUsers on SQLite. A first sign-in creates the user, the next
// finds them; linking by a verified address (never an unverified one); the exchange of the one-time code for the
// pair (or the cookies); a landing URL outside allowedRedirects refused.
import t from 'tap'
import { underTestCa } from '../helpers/test-ca.js'
import { Browser } from '../helpers/browser.js'
import { appAndProvider, exchange, signIn, startOAuthApp } from '../helpers/oauth-app.js'

const tls = await underTestCa(t, import.meta.url)

if (tls !== undefined) {
  const { address, op } = await appAndProvider(t, tls)

  t.test('a first sign-in creates the user; the next finds them; the code is spent for the pair', async (t) => {
    const app = await startOAuthApp(tls, address, {
      providers: { test: { issuer: op.issuer, clientId: 'app', clientSecret: 'a-client-secret' } },
      successRedirect: '/welcome'
    })
    t.teardown(() => app.close())
    op.accounts.set('ann', { email: 'ann@example.test', email_verified: true })
    const browser = new Browser()
    const { begin, callback } = await signIn(browser, app, 'ann', op.issuer)
    const authorize = new URL(begin.location!)
    t.equal(authorize.origin, op.issuer, '302 to the provider')
    t.match(Object.fromEntries(authorize.searchParams), {
      client_id: 'app',
      response_type: 'code',
      scope: 'openid email profile',
      code_challenge_method: 'S256',
      redirect_uri: `${app.baseUrl}/auth/oauth/test/callback`,
      state: /^[\w-]{43}$/,
      nonce: /\S/,
      code_challenge: /^[\w-]{43}$/
    })
    t.match(begin.headers.getSetCookie()[0], /^__Host-oauth_attempt=[\w-]{43}; Max-Age=600; Path=\/; HttpOnly; Secure; SameSite=Lax$/)
    t.equal(callback!.status, 302)
    const landing = new URL(callback!.location!)
    t.equal(`${landing.origin}${landing.pathname}`, `${app.baseUrl}/welcome`, 'to successRedirect')
    t.match(landing.searchParams.get('code'), /^[\w-]{43}$/, 'with a one-time code')
    t.notMatch(callback!.location!, /eyJ/, 'no token in the URL')
    const pair = await exchange(browser, app, callback!.location!)
    t.equal(pair.status, 200)
    const tokens = JSON.parse(pair.body)
    t.match(tokens, { token_type: 'Bearer', access_token: /^eyJ/, refresh_token: /^eyJ/ })
    const me = await browser.request(`${app.baseUrl}/private`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
    const { user, claims } = JSON.parse(me.body)
    t.match(user, { username: /^test-[0-9a-f]{12}$/, email: 'ann@example.test', emailVerified: true, roles: ['user'] })
    t.match(claims, { amr: ['fed'], idp: 'test', auth_time: Number })
    t.same((await app.users.listIdentities(user.id)).map(({ linkedAt, ...identity }) => identity),
      [{ provider: 'test', subject: 'ann', email: 'ann@example.test', emailVerified: true }])
    t.same(app.events.map((event) => event.type), ['register', 'oauth.login'])
    t.match(app.events[1], { userId: user.id, provider: 'test', familyId: String })

    const again = await signIn(new Browser(), app, 'ann', op.issuer)
    const second = JSON.parse((await exchange(browser, app, again.callback!.location!)).body)
    const me2 = await browser.request(`${app.baseUrl}/private`, { headers: { authorization: `Bearer ${second.access_token}` } })
    t.equal(JSON.parse(me2.body).user.id, user.id, 'the next sign-in is the same user')
    t.equal((await app.db.selectFrom('users').select('id').execute()).length, 1, 'no second user')
    t.equal((await exchange(browser, app, again.callback!.location!)).status, 400, 'a code is spent once')
  })

  t.test('with cookies on, the exchange sets the cookies', async (t) => {
    const app = await startOAuthApp(tls, address, {
      providers: { test: { issuer: op.issuer, clientId: 'app', clientSecret: 'a-client-secret' } },
      successRedirect: '/welcome'
    }, { cookies: true })
    t.teardown(() => app.close())
    const browser = new Browser()
    const { callback } = await signIn(browser, app, 'cookie-user', op.issuer)
    const pair = await exchange(browser, app, callback!.location!)
    t.equal(pair.status, 200)
    t.notOk('refresh_token' in JSON.parse(pair.body), 'the refresh token only in its HttpOnly cookie')
    t.ok(browser.cookies(app.baseUrl).has('__Host-refresh_token'))
    t.match(JSON.parse(pair.body), { csrf_token: /\S/ })
  })

  t.test('linking by a verified address, and only by one the user verified too', async (t) => {
    const app = await startOAuthApp(tls, address, {
      providers: { test: { issuer: op.issuer, clientId: 'app', clientSecret: 'a-client-secret', linkVerifiedEmail: true } },
      successRedirect: '/welcome'
    })
    t.teardown(() => app.close())
    const bea = await app.users.create({ username: 'bea', passwordHash: 'h', email: 'Bea@Example.test' }) as { id: string }
    await app.users.markEmailVerified(bea.id)
    op.accounts.set('bea-at-op', { email: 'bea@example.test', email_verified: true })
    const browser = new Browser()
    const { callback } = await signIn(browser, app, 'bea-at-op', op.issuer)
    const tokens = JSON.parse((await exchange(browser, app, callback!.location!)).body)
    const me = await browser.request(`${app.baseUrl}/private`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
    t.equal(JSON.parse(me.body).user.id, bea.id, 'signed in as the user of the verified address')
    t.match(app.events.find((event) => event.type === 'oauth.link'), { userId: bea.id, provider: 'test', reason: 'verified_email' })

    // The provider did not verify it: never linked; the new user does not get the address.
    const cy = await app.users.create({ username: 'cy', passwordHash: 'h', email: 'cy@example.test' }) as { id: string }
    await app.users.markEmailVerified(cy.id)
    op.accounts.set('cy-at-op', { email: 'cy@example.test', email_verified: false })
    const unverified = await signIn(new Browser(), app, 'cy-at-op', op.issuer)
    const other = JSON.parse((await exchange(browser, app, unverified.callback!.location!)).body)
    const them = JSON.parse((await browser.request(`${app.baseUrl}/private`, { headers: { authorization: `Bearer ${other.access_token}` } })).body).user
    t.not(them.id, cy.id, 'an unverified address links nothing')
    t.equal(them.email, null, 'and is not the new user\'s')
    t.same(await app.users.listIdentities(cy.id), [])

    // The user never verified the address (an attacker could have registered it): no link, the address is taken.
    await app.users.create({ username: 'dee', passwordHash: 'h', email: 'dee@example.test' })
    op.accounts.set('dee-at-op', { email: 'dee@example.test', email_verified: true })
    const taken = await signIn(new Browser(), app, 'dee-at-op', op.issuer)
    t.equal(taken.callback!.status, 409)
    t.match(JSON.parse(taken.callback!.body), { code: 'FST_JWT_AUTH_EMAIL_TAKEN' })
    t.match(app.events.at(-1), { type: 'oauth.failure', reason: 'email_taken', provider: 'test' })
  })

  t.test('redirect_to: an allowed origin or URL; anything else refused before the provider', async (t) => {
    const app = await startOAuthApp(tls, address, {
      providers: { test: { issuer: op.issuer, clientId: 'app', clientSecret: 'a-client-secret' } },
      successRedirect: '/welcome',
      allowedRedirects: ['https://spa.example.test', 'https://other.example.test/landing']
    })
    t.teardown(() => app.close())
    const browser = new Browser()
    const { callback } = await signIn(browser, app, 'eve', op.issuer, `?redirect_to=${encodeURIComponent('https://spa.example.test/after?x=1')}`)
    const landing = new URL(callback!.location!)
    t.equal(`${landing.origin}${landing.pathname}`, 'https://spa.example.test/after')
    t.equal(landing.searchParams.get('x'), '1')
    t.ok(landing.searchParams.has('code'))
    for (const target of ['https://evil.example.test/', 'https://other.example.test/landing/x', 'https://spa.example.test.evil.test/',
      'javascript:alert(1)', '//evil.example.test', 'https://user@spa.example.test/', 'x'.repeat(3000)]) {
      const begin = await browser.request(`${app.baseUrl}/auth/oauth/test?redirect_to=${encodeURIComponent(target)}`)
      t.equal(begin.status, 400, target.slice(0, 40))
      t.match(JSON.parse(begin.body), { code: 'FST_JWT_AUTH_OAUTH_REDIRECT' })
    }
    const exact = await browser.request(`${app.baseUrl}/auth/oauth/test?redirect_to=${encodeURIComponent('https://other.example.test/landing')}`)
    t.equal(exact.status, 302, 'an exact URL')
    t.match(app.events.at(-2), { type: 'oauth.failure', reason: 'redirect' })
  })
}
