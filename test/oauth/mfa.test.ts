// MFA still applies after a provider's sign-in (issue 24), over real HTTPS against oidc-provider under a test CA: a
// user with TOTP on gets the mfa challenge from the exchange, and POST /mfa/verify issues the pair with amr
// ['fed', 'otp'] and idp; a provider with mfa: false is trusted instead.
import t from 'tap'
import { totpCode } from '../../lib/testing.js'
import { underTestCa } from '../helpers/test-ca.js'
import { Browser } from '../helpers/browser.js'
import { signInAt } from '../helpers/oidc-provider.js'
import { appAndProvider, startOAuthApp } from '../helpers/oauth-app.js'
import { MFA_KEY } from '../helpers/mfa-app.js'

const tls = await underTestCa(t, import.meta.url)

if (tls !== undefined) {
  const { address, op } = await appAndProvider(t, tls, ['test', 'trusted'])
  const app = await startOAuthApp(tls, address, {
    providers: {
      test: { issuer: op.issuer, clientId: 'app', clientSecret: 'a-client-secret' },
      trusted: { issuer: op.issuer, clientId: 'app', clientSecret: 'a-client-secret', mfa: false }
    },
    successRedirect: '/welcome'
  }, { mfa: { encryptionKey: MFA_KEY } })
  t.teardown(() => app.close())
  const url = (path: string) => `${app.baseUrl}/auth${path}`

  async function exchangeAfter (provider: string, account: string) {
    const browser = new Browser()
    const begin = await browser.request(url(`/oauth/${provider}`))
    const callback = await browser.request((await signInAt(browser, begin.location!, account, op.issuer)).location!)
    const code = new URL(callback.location!).searchParams.get('code')
    return { browser, hop: await browser.request(url('/oauth/exchange'), { json: { code } }) }
  }

  t.test('a user with TOTP on gives the code after the provider; a provider with mfa: false is trusted', async (t) => {
    const first = JSON.parse((await exchangeAfter('test', 'mia')).hop.body)
    t.match(first, { access_token: /^eyJ/ }, 'no factor yet: the pair')
    const userId = (await app.app.jwtAuth.verify(first.access_token)).sub
    const { secret } = await app.app.jwtAuth.mfa.setupTotp(userId)
    await app.app.jwtAuth.mfa.confirmTotp(userId, totpCode(secret))

    const { browser, hop } = await exchangeAfter('test', 'mia')
    const challenge = JSON.parse(hop.body)
    t.match(challenge, { mfa_required: true, mfa_token: /^[\w-]{43}$/, methods: ['totp', 'recovery_code'] })
    t.notOk('access_token' in challenge)
    const verify = await browser.request(url('/mfa/verify'), {
      json: { mfa_token: challenge.mfa_token, code: totpCode(secret, { timestamp: Date.now() + 30_000 }) }
    })
    t.equal(verify.status, 200)
    const claims = await app.app.jwtAuth.verify(JSON.parse(verify.body).access_token)
    t.match(claims, { sub: userId, amr: ['fed', 'otp'], idp: 'test' })

    await app.users.linkIdentity(userId, { provider: 'trusted', subject: 'mia', email: null, emailVerified: false })
    const trusted = JSON.parse((await exchangeAfter('trusted', 'mia')).hop.body)
    t.notOk('mfa_required' in trusted, 'the same user, through a provider the app trusts: no second factor')
    t.match(await app.app.jwtAuth.verify(trusted.access_token), { sub: userId, amr: ['fed'], idp: 'trusted' })
  })
}
