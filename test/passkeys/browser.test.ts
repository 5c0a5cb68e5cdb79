/// <reference lib="dom" />
// Passkeys in a real browser: Debian's Chromium driven by playwright-core (never a downloaded browser), with a CDP
// virtual authenticator (a platform authenticator with resident keys and user verification), on the example
// server's own page (examples/passkeys-demo/), which uses @simplewebauthn/browser. The example runs as
// `npm run example` does; http://localhost is a secure context, so WebAuthn is on without TLS.
// CI installs chromium (.ci/run); elsewhere this test skips loudly when there is none.
import { existsSync } from 'node:fs'
import t, { type Test } from 'tap'
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core'
import { totpCode } from '../../lib/testing.js'
import { startExample } from '../helpers/example-server.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
// What the creation options offer: EdDSA, ES256 and RS256, never ML-DSA (which @simplewebauthn/server would offer
// first on Node 24 and later, and Chromium's authenticator would take: lib/factors/passkeys.ts says why not).
const CLASSIC_ALGORITHMS = [-8, -7, -257]
const ANSWER = /captcha answer \(example only\): (\w+)/g

interface VirtualCredential {
  credentialId: string, isResidentCredential: boolean, rpId: string, privateKey: string, userHandle: string, signCount: number
}

interface Authenticator {
  credentials: () => Promise<VirtualCredential[]>
  add: (credential: VirtualCredential) => Promise<void>
}

/**
 * A platform authenticator in the page's tab, as a laptop's or a phone's built-in one: it keeps resident keys and
 * verifies the user. Its automatic presence also answers the page's conditional request (the autofill's pick).
 */
async function addAuthenticator (cdp: CDPSession): Promise<Authenticator> {
  await cdp.send('WebAuthn.enable', { enableUI: false })
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true
    }
  })
  return {
    credentials: async () =>
      (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials as VirtualCredential[],
    add: async (credential) => { await cdp.send('WebAuthn.addCredential', { authenticatorId, credential }) }
  }
}

// A browser without passkeys in autofill (conditional UI): the page then offers its button only. Without this, the
// virtual authenticator answers the page's autofill request as soon as it has a passkey for the site.
function withoutAutofill (): void {
  PublicKeyCredential.isConditionalMediationAvailable = async () => false
}

if (!existsSync(CHROMIUM)) {
  const message = `NO CHROMIUM at ${CHROMIUM}: the passkeys browser test is SKIPPED. Install it with: apt-get install -y chromium`
  console.error(`\n*** ${message} ***\n`)
  if (process.env.CI !== undefined) t.fail(`${message} (required in CI)`)
  else t.test('passkeys in a real browser', { skip: message }, async () => {})
} else {
  const { chromium } = await import('playwright-core')

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  t.teardown(() => browser.close())

  /**
   * `npm run example` of its own (its rate limits count per client, and every tab here is 127.0.0.1) and what a test
   * does with its page.
   */
  async function example (t: Test) {
    const server = await startExample(t, 'example', { logLevel: 'info' })
    // The origin the example allows by default: localhost on its port (127.0.0.1 cannot be an rpID).
    const base = server.base.replace('127.0.0.1', 'localhost')

    /** The answer of the captcha about to be made, which the example (only) writes to its log. */
    async function captchaAnswer (make: () => Promise<unknown>): Promise<string> {
      const seen = [...server.output().matchAll(ANSWER)].length
      await make()
      for (let waited = 0; waited < 5_000; waited += 50) {
        const answer = [...server.output().matchAll(ANSWER)][seen]?.[1]
        if (answer !== undefined) return answer
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      throw new Error(`no captcha answer in the log:\n${server.output()}`)
    }
    const pageCaptcha = (page: Page, load: () => Promise<unknown>) => captchaAnswer(() =>
      Promise.all([page.waitForResponse((reply) => reply.url().endsWith('/auth/captcha')), load()]))

    return {
      base,
      captchaAnswer,

      /** A tab of its own (cookies, storage, authenticator), with the page loaded. */
      async open (t: Test, { autofill = true } = {}): Promise<{ page: Page, authenticator: Authenticator }> {
        const context: BrowserContext = await (browser as Browser).newContext()
        t.teardown(() => context.close())
        if (!autofill) await context.addInitScript(withoutAutofill)
        const page = await context.newPage()
        page.setDefaultTimeout(15_000)
        const authenticator = await addAuthenticator(await context.newCDPSession(page))
        await pageCaptcha(page, () => page.goto(`${base}/`))
        return { page, authenticator }
      },

      /** Logs out; the page then loads a new captcha, whose answer is awaited so that it is not taken for another's. */
      async logout (page: Page): Promise<void> {
        await pageCaptcha(page, () => page.locator('#logout').click())
        await status(page, 'Logged out')
      },

      async passwordLogin (page: Page, username: string, password: string): Promise<void> {
        const captcha = await pageCaptcha(page, () => page.locator('#new-captcha').click())
        await page.locator('#username').fill(username)
        await page.locator('#password').fill(password)
        await page.locator('#captcha').fill(captcha)
        await page.locator('#login').click()
      }
    }
  }

  /** Waits for the page's status line to say `text`; a failure tells what it says instead. */
  async function status (page: Page, text: string): Promise<void> {
    try {
      await page.locator('#status').getByText(text).waitFor()
    } catch (error) {
      const shown = await page.locator('#status').innerText()
      throw new Error(`the page says "${shown}", not "${text}"`, { cause: error })
    }
  }

  async function profileAnswers200 (t: Test, page: Page): Promise<void> {
    await page.locator('#call-profile').click()
    await status(page, 'GET /api/profile: 200')
    t.equal(await page.locator('#profile-status').innerText(), '200', 'a protected route answers 200')
  }

  async function registerPasskey (page: Page, name: string): Promise<void> {
    await page.locator('#passkey-name').fill(name)
    await page.locator('#register-passkey').click()
    await status(page, `Passkey "${name}" added`)
  }

  t.test('passwordless: register a passkey, log out, sign in with it without a username', async (t) => {
    const { open, passwordLogin, logout } = await example(t)
    let alicesPasskey: VirtualCredential | undefined

    t.test('with the page\'s button', async (t) => {
      const { page, authenticator } = await open(t, { autofill: false })
      t.equal(await page.evaluate(() => window.isSecureContext), true, 'http://localhost is a secure context')
      await passwordLogin(page, 'alice', 'alice-password')
      await status(page, 'Signed in as alice')
      t.equal(await page.locator('#amr').innerText(), 'pwd')

      await registerPasskey(page, 'test laptop')
      t.match(await page.locator('#passkeys').innerText(), /test laptop/, 'listed')
      const credentials = await authenticator.credentials()
      t.equal(credentials.length, 1)
      t.match(credentials[0], { rpId: 'localhost', isResidentCredential: true }, 'a discoverable credential of localhost')

      await logout(page)
      await page.locator('#passkey-login').click()
      await status(page, 'Signed in as alice')
      t.equal(await page.locator('#amr').innerText(), 'hwk, user', 'a key bound to hardware, the user verified')
      t.match(await page.locator('#passkeys').innerText(), /test laptop/, 'GET /auth/passkeys lists it')
      await profileAnswers200(t, page)
      // Its signature counter as of now: a copy with an older one would be refused as a clone.
      alicesPasskey = (await authenticator.credentials())[0]
    })

    t.test('conditional UI: the passkey offered in the username\'s autofill signs in', async (t) => {
      t.ok(alicesPasskey, 'alice has a passkey')
      // Another tab whose authenticator has alice's passkey (as a synced one): the page's autofill request finds it,
      // and the virtual authenticator picks it as the user would in the list.
      const { page, authenticator } = await open(t)
      await authenticator.add(alicesPasskey!)
      await page.reload()
      await status(page, 'Signed in as alice')
      t.equal(await page.locator('#amr').innerText(), 'hwk, user')
      await profileAnswers200(t, page)
    })

    t.test('the creation options offer EdDSA, ES256 and RS256 only, and the passkey made of them signs in', async (t) => {
      const { page } = await open(t, { autofill: false })
      await passwordLogin(page, 'bob', 'bob-password')
      await status(page, 'Signed in as bob')
      const offered = page.waitForResponse((reply) => reply.url().endsWith('/auth/passkeys/register/options'))
      await registerPasskey(page, 'Passkey')
      const { pubKeyCredParams } = await (await offered).json() as { pubKeyCredParams: Array<{ alg: number }> }
      t.same(pubKeyCredParams.map(({ alg }) => alg), CLASSIC_ALGORITHMS, 'never ML-DSA')
      await logout(page)
      await page.locator('#passkey-login').click()
      const shown = page.locator('#status').filter({ hasText: /Signed in as bob|passkeys\/login\/verify: / })
      await shown.waitFor().catch(() => {})
      const said = await page.locator('#status').innerText()
      t.match(said, /^Signed in as bob/, `bob signs in with it (the page says "${said}")`)
    })
  })

  t.test('second factor: a password, then the passkey completes the two-step login', async (t) => {
    const { base, captchaAnswer, open, passwordLogin, logout } = await example(t)
    // The page: logged in with the password (no second factor yet), bob adds a passkey, logs out.
    const { page } = await open(t, { autofill: false })
    await passwordLogin(page, 'bob', 'bob-password')
    await status(page, 'Signed in as bob')
    await registerPasskey(page, 'phone')
    await logout(page)

    // Elsewhere (an app, curl), bob turns TOTP on: from now on his password needs a second step.
    const json = async (path: string, body: object, token?: string) => {
      const reply = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
        body: JSON.stringify(body)
      })
      return { status: reply.status, body: await reply.json() as Record<string, any> }
    }
    let captchaId = ''
    const captcha = await captchaAnswer(async () => {
      captchaId = (await (await fetch(`${base}/auth/captcha`)).json() as { captchaId: string }).captchaId
    })
    const login = await json('/auth/login', { username: 'bob', password: 'bob-password', captchaId, captcha })
    t.equal(login.status, 200, JSON.stringify(login.body))
    const token = login.body.access_token as string
    const setup = await json('/auth/mfa/totp/setup', {}, token)
    t.equal(setup.status, 200, JSON.stringify(setup.body))
    t.equal((await json('/auth/mfa/totp/confirm', { code: totpCode(setup.body.secret) }, token)).status, 200, 'TOTP on')

    await passwordLogin(page, 'bob', 'bob-password')
    await status(page, 'Password accepted: now the passkey')
    await page.locator('#mfa-passkey').click()
    await status(page, 'Signed in as bob')
    t.equal(await page.locator('#amr').innerText(), 'pwd, hwk, user', 'the password and the passkey')
    await profileAnswers200(t, page)

    // Removed (he keeps his password and TOTP): the second step no longer offers it.
    await page.locator('#passkeys button', { hasText: 'remove' }).click()
    await status(page, 'Passkey "phone" removed')
    t.equal(await page.locator('#passkeys').innerText(), 'none yet')
    await logout(page)
    await passwordLogin(page, 'bob', 'bob-password')
    await status(page, 'this account\'s second factor is totp or recovery_code: this page handles passkeys only')
  })
}
