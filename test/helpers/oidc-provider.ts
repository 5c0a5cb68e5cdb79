// A real OpenID Provider for the tests: oidc-provider on a free loopback port over HTTPS (a certificate of the
// test CA), with the development login form (any account id signs in), PKCE required, and the accounts' email
// claims in the ID token. signInAt drives a browser through it.
import { createServer, type Server } from 'node:https'
import Provider from 'oidc-provider'
import { freePort } from './redis.js'
import type { TestTls } from './test-ca.js'
import type { Browser, Hop } from './browser.js'

export interface TestAccount { email?: string, email_verified?: boolean }

export interface TestProvider {
  issuer: string
  provider: Provider
  accounts: Map<string, TestAccount>
  close (): Promise<void>
}

export interface TestClient { client_id: string, client_secret: string, redirect_uris: string[] }

export async function startProvider (tls: TestTls, clients: TestClient[]): Promise<TestProvider> {
  const port = await freePort()
  const issuer = `https://127.0.0.1:${port}`
  const accounts = new Map<string, TestAccount>()
  const provider = new Provider(issuer, {
    clients: clients.map((client) => ({
      ...client, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post'
    })),
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // The email claims in the ID token, as Google puts them there.
    conformIdTokenClaims: false,
    cookies: { keys: ['a test key of the provider, not a secret'] },
    features: { devInteractions: { enabled: true } },
    async findAccount (_ctx, id) {
      const account = accounts.get(id) ?? {}
      return { accountId: id, claims: async () => ({ sub: id, ...account }) }
    },
    // No consent screen: every client is granted what it asks.
    async loadExistingGrant (ctx) {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! })
      grant.addOIDCScope('openid email profile')
      await grant.save()
      return grant
    }
  })
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, provider.callback())
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    issuer,
    provider,
    accounts,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

/**
 * From the provider's authorization URL to the hop that leaves it (the redirect to the app's callback), signing in
 * as `account` on the development login form.
 */
export async function signInAt (browser: Browser, authorizationUrl: string, account: string, issuer: string): Promise<Hop> {
  let hop = await browser.request(authorizationUrl)
  for (let step = 0; step < 10; step++) {
    if (hop.location === undefined) throw new Error(`the provider stopped at ${hop.url}: ${hop.status} ${hop.body.slice(0, 300)}`)
    if (!hop.location.startsWith(issuer)) return hop
    if (/\/interaction\/[^/]+$/.test(new URL(hop.location).pathname)) {
      hop = await browser.request(hop.location, { form: { prompt: 'login', login: account, password: 'any' } })
    } else {
      hop = await browser.request(hop.location)
    }
  }
  throw new Error('the provider redirected too often')
}
