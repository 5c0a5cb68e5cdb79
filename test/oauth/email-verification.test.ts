// routes.emailVerification.required with sign-in with providers (issue 24): the provider's email_verified decides. A
// user the provider's sign-in creates with an address it verified is verified (markEmailVerified) and signs in; one
// with an address it did not verify keeps it unverified and is refused as a password user's login is (403, a
// verification message), until the address is verified. Against oidc-provider over HTTPS, kyselyUsers on SQLite.
import t from 'tap'
import type { AccountMessage } from '../../lib/index.js'
import { underTestCa } from '../helpers/test-ca.js'
import { Browser } from '../helpers/browser.js'
import { eventually } from '../helpers/eventually.js'
import { appAndProvider, exchange, signIn, startOAuthApp, type OAuthApp } from '../helpers/oauth-app.js'

const tls = await underTestCa(t, import.meta.url)

/** Up to the callback's answer. */
const callbackOf = async (browser: Browser, app: OAuthApp, account: string, issuer: string) =>
  (await signIn(browser, app, account, issuer)).callback!

if (tls !== undefined) {
  const { address, op } = await appAndProvider(t, tls)
  const sent: AccountMessage[] = []
  const app = await startOAuthApp(tls, address, {
    providers: { test: { issuer: op.issuer, clientId: 'app', clientSecret: 'a-client-secret' } },
    successRedirect: '/welcome'
  }, { routes: { captcha: false, emailVerification: { send: (message) => { sent.push(message) }, required: true } } })
  t.teardown(() => app.close())
  const userOf = async (email: string) => await app.users.findByEmail(email) as { id: string, emailVerified: boolean } | null

  t.test('an address the provider verified: the new user is verified and signs in', async (t) => {
    op.accounts.set('ann', { email: 'ann@example.test', email_verified: true })
    const browser = new Browser()
    const callback = await callbackOf(browser, app, 'ann', op.issuer)
    t.equal(callback.status, 302)
    t.match(await userOf('ann@example.test'), { email: 'ann@example.test', emailVerified: true }, 'markEmailVerified ran')
    const pair = await exchange(browser, app, callback.location!)
    t.equal(pair.status, 200)
    t.same(sent, [], 'no verification message')
  })

  t.test('an address the provider did not verify: kept unverified, refused as a password login, until verified',
    async (t) => {
      op.accounts.set('bob', { email: 'bob@example.test', email_verified: false })
      const callback = await callbackOf(new Browser(), app, 'bob', op.issuer)
      t.equal(callback.status, 403)
      t.match(JSON.parse(callback.body), { code: 'FST_JWT_AUTH_EMAIL_NOT_VERIFIED' })
      const bob = await userOf('bob@example.test')
      t.match(bob, { email: 'bob@example.test', emailVerified: false }, 'the new user has the address, unverified')
      t.equal(await eventually(() => sent.length === 1, 5000) !== undefined, true, 'a verification message went out')
      t.equal(String(sent[0]!.user.id), String(bob!.id))
      t.match(app.events.slice(-2), [
        { type: 'register', userId: String(bob!.id), provider: 'test' },
        { type: 'oauth.failure', reason: 'email_not_verified', provider: 'test' }
      ])
      t.notOk(callback.location, 'no code')

      // Again before the address is verified: the same user, refused again.
      const again = await callbackOf(new Browser(), app, 'bob', op.issuer)
      t.equal(again.status, 403)
      t.equal((await app.db.selectFrom('users').select('id').execute()).length, 2, 'no other user')

      const verify = await app.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token: sent[0]!.token } })
      t.equal(verify.statusCode, 204)
      const browser = new Browser()
      const verified = await callbackOf(browser, app, 'bob', op.issuer)
      t.equal(verified.status, 302, 'once verified, the sign-in goes on')
      const pair = await exchange(browser, app, verified.location!)
      t.equal(pair.status, 200)
      const me = await browser.request(`${app.baseUrl}/private`,
        { headers: { authorization: `Bearer ${JSON.parse(pair.body).access_token}` } })
      t.match(JSON.parse(me.body).user, { id: bob!.id, email: 'bob@example.test', emailVerified: true })
    })
}
