/// <reference lib="dom" />
// Real browser: Debian's Chromium driven by playwright-core (never a downloaded browser).
// CI installs chromium (.ci/run); elsewhere this test skips loudly when there is none.
import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { buildServer, DEFAULT_PASSWORDS } from '../examples/server.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

if (!existsSync(CHROMIUM)) {
  const message = `NO CHROMIUM at ${CHROMIUM}: the browser test is SKIPPED. Install it with: apt-get install -y chromium`
  console.error(`\n*** ${message} ***\n`)
  if (process.env.CI !== undefined) t.fail(`${message} (required in CI)`)
  else t.test('Swagger UI and the captcha in a real browser', { skip: message }, async () => {})
} else {
  const { chromium } = await import('playwright-core')

  t.test('Swagger UI and the captcha in a real browser', async (t) => {
    const app = await buildServer({ logger: false, databaseFile: ':memory:' })
    t.teardown(() => app.close())
    await app.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync']
    })
    t.teardown(() => browser.close())
    const page = await browser.newPage()
    page.setDefaultTimeout(20_000)

    t.test('Authorize with the password flow, then GET /auth/me from Swagger UI answers 200', async (t) => {
      await page.goto(`${base}/docs`)
      await page.locator('.swagger-ui .btn.authorize').first().click()
      const modal = page.locator('.modal-ux')
      await modal.locator('input#oauth_username').fill('alice')
      await modal.locator('input#oauth_password').fill(DEFAULT_PASSWORDS.alice)
      const tokenResponse = page.waitForResponse((response) => response.url().endsWith('/auth/swagger-login'))
      await modal.locator('.auth-btn-wrapper button.authorize').last().click()
      t.equal((await tokenResponse).status(), 200, 'Swagger UI obtained a token from /auth/swagger-login')
      await modal.locator('button', { hasText: 'Logout' }).first().waitFor()
      t.ok(await modal.getByText('Authorized').first().isVisible(), 'Swagger UI shows the scheme as authorized')
      await modal.locator('button.close-modal').first().click()

      const operation = page.locator('#operations-auth-get_auth_me')
      await operation.locator('.opblock-summary').click()
      await operation.getByRole('button', { name: 'Try it out' }).click()
      const meResponse = page.waitForResponse((response) => response.url().endsWith('/auth/me'))
      await operation.getByRole('button', { name: 'Execute' }).click()
      const response = await meResponse
      t.equal(response.status(), 200, 'the browser call to /auth/me succeeded')
      t.match(await response.json(), { username: 'alice', roles: ['admin', 'user'] })
      const shown = operation.locator('.live-responses-table tbody .response-col_status').first()
      await shown.waitFor()
      t.match(await shown.innerText(), /^\s*200\b/, 'Swagger UI shows 200 as the server response')
      await page.screenshot({ path: '.tap/swagger-me.png', fullPage: true })
      t.match(response.request().headers().authorization, /^Bearer ey/, 'sent as a bearer token')
    })

    t.test('the captcha image renders as a visible SVG', async (t) => {
      const captcha = await (await fetch(`${base}/auth/captcha`)).json() as { image: string }
      await page.setContent(`<img id="captcha" src="${captcha.image}">`)
      const image = page.locator('#captcha')
      await image.waitFor()
      const rendered = await image.evaluate(async (img: HTMLImageElement) => {
        await img.decode()
        const canvas = document.createElement('canvas')
        canvas.width = img.naturalWidth
        canvas.height = img.naturalHeight
        const context = canvas.getContext('2d')!
        context.drawImage(img, 0, 0)
        const { data } = context.getImageData(0, 0, canvas.width, canvas.height)
        let inked = 0
        for (let i = 3; i < data.length; i += 4) if ((data[i] as number) > 0) inked++
        return { width: img.naturalWidth, height: img.naturalHeight, inked, total: data.length / 4 }
      })
      t.equal(rendered.width, 150)
      t.equal(rendered.height, 50)
      t.ok(rendered.inked > rendered.total * 0.02, `${rendered.inked} of ${rendered.total} pixels drawn`)
      t.ok(rendered.inked < rendered.total * 0.9, 'not a filled block')
      await image.screenshot({ path: '.tap/captcha.png' })
    })
  })
}
