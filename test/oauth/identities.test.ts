// A logged-in user's identities (issue 24), over real HTTPS against oidc-provider under a test CA: linking a
// provider (POST /oauth/:provider/link, then the provider, then the callback), listing, unlinking (204), never the
// last way to log in (409); a sign-in linked to another user refused (409); the events.
import t from 'tap'
import { underTestCa } from '../helpers/test-ca.js'
import { Browser } from '../helpers/browser.js'
import { signInAt } from '../helpers/oidc-provider.js'
import { appAndProvider, startOAuthApp } from '../helpers/oauth-app.js'

const tls = await underTestCa(t, import.meta.url)

if (tls !== undefined) {
  const { address, op } = await appAndProvider(t, tls)
  const app = await startOAuthApp(tls, address, {
    providers: { test: { issuer: op.issuer, clientId: 'app', clientSecret: 'a-client-secret' } },
    successRedirect: '/welcome',
    allowedRedirects: ['https://spa.example.test']
  })
  t.teardown(() => app.close())
  const url = (path: string) => `${app.baseUrl}/auth${path}`
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  async function linkAs (browser: Browser, token: string, account: string, body: unknown = {}) {
    const begin = await browser.request(url('/oauth/test/link'), { json: body, headers: bearer(token) })
    if (begin.status !== 200) return begin
    const back = await signInAt(browser, JSON.parse(begin.body).url, account, op.issuer)
    return await browser.request(back.location!)
  }

  t.test('a password user links a provider, lists it, signs in with it, unlinks it', async (t) => {
    const pat = await app.users.create({ username: 'pat', passwordHash: 'a-hash' }) as { id: string }
    const { accessToken } = await app.app.jwtAuth.issue(pat)
    const browser = new Browser()
    t.equal((await browser.request(url('/oauth/test/link'), { json: {} })).status, 401, 'only for a logged-in user')
    const linked = await linkAs(browser, accessToken, 'pat-at-op', { redirect_to: 'https://spa.example.test/settings' })
    t.equal(linked.status, 302)
    t.equal(linked.location, 'https://spa.example.test/settings?linked=test', 'no code: the user is logged in already')
    t.match(app.events.at(-1), { type: 'oauth.link', userId: pat.id, provider: 'test' })
    const list = await browser.request(url('/identities'), { headers: bearer(accessToken) })
    t.match(JSON.parse(list.body), { identities: [{ provider: 'test', linkedAt: String }] })
    t.notMatch(list.body, /pat-at-op/, 'the provider\'s subject is not shown')

    // Signing in with the provider is now pat.
    const signIn = new Browser()
    const begin = await signIn.request(url('/oauth/test'))
    const callback = await signIn.request((await signInAt(signIn, begin.location!, 'pat-at-op', op.issuer)).location!)
    const code = new URL(callback.location!).searchParams.get('code')
    const pair = JSON.parse((await signIn.request(url('/oauth/exchange'), { json: { code } })).body)
    t.equal(JSON.parse((await signIn.request(`${app.baseUrl}/private`, { headers: bearer(pair.access_token) })).body).user.id, pat.id)

    const unlink = await browser.request(url('/identities/test'), { method: 'DELETE', headers: bearer(accessToken) })
    t.equal(unlink.status, 204, 'pat keeps a password')
    t.match(app.events.at(-1), { type: 'oauth.unlink', userId: pat.id, provider: 'test' })
    const again = await browser.request(url('/identities/test'), { method: 'DELETE', headers: bearer(accessToken) })
    t.equal(again.status, 404)
    t.match(JSON.parse(again.body), { code: 'FST_JWT_AUTH_OAUTH_NOT_LINKED' })
    t.equal((await browser.request(url('/oauth/nope/link'), { json: {}, headers: bearer(accessToken) })).status, 404)
    const open = await browser.request(url('/oauth/test/link'), { json: { redirect_to: 'https://evil.example.test' }, headers: bearer(accessToken) })
    t.equal(open.status, 400, 'an open redirect through the link flow')
  })

  t.test('never the last way to log in; a sign-in linked to another user is refused', async (t) => {
    const browser = new Browser()
    const begin = await browser.request(url('/oauth/test'))
    const callback = await browser.request((await signInAt(browser, begin.location!, 'only-op', op.issuer)).location!)
    const code = new URL(callback.location!).searchParams.get('code')
    const pair = JSON.parse((await browser.request(url('/oauth/exchange'), { json: { code } })).body)
    const last = await browser.request(url('/identities/test'), { method: 'DELETE', headers: bearer(pair.access_token) })
    t.equal(last.status, 409, 'a user created by a provider has no password')
    t.match(JSON.parse(last.body), { code: 'FST_JWT_AUTH_OAUTH_LAST_LOGIN' })
    t.match(JSON.parse((await browser.request(url('/identities'), { headers: bearer(pair.access_token) })).body), { identities: [{ provider: 'test' }] })

    const sam = await app.users.create({ username: 'sam', passwordHash: 'a-hash' }) as { id: string }
    const { accessToken } = await app.app.jwtAuth.issue(sam)
    const taken = await linkAs(new Browser(), accessToken, 'only-op')
    t.equal(taken.status, 409)
    t.match(JSON.parse(taken.body), { code: 'FST_JWT_AUTH_OAUTH_IDENTITY_TAKEN' })
    t.match(app.events.at(-1), { type: 'oauth.failure', reason: 'identity_taken', provider: 'test' })
    const { user } = JSON.parse((await browser.request(`${app.baseUrl}/private`, { headers: bearer(pair.access_token) })).body)
    await app.users.linkIdentity(user.id, { provider: 'other', subject: 'o', email: null, emailVerified: false })
    const another = await browser.request(url('/identities/test'), { method: 'DELETE', headers: bearer(pair.access_token) })
    t.equal(another.status, 204, 'another identity is another way to log in')
    const quiet = app.events.filter((event) => event.type.startsWith('oauth.'))
    t.notMatch(JSON.stringify(quiet), /eyJ|[\w-]{43}/, 'no token, code or state in the events')
  })
}
