// The plugin with sign-in with providers, served over HTTPS (a certificate of the test CA) on a free loopback
// port, with kyselyUsers on SQLite (the identities group of a real adapter) and its events recorded.
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { Kysely } from 'kysely'
import jwtAuth, { memoryStore, type AuthEvent, type JwtAuthOptions } from '../../lib/index.js'
import { kyselyUsers, migrateToLatest, sqliteDialect, type KyselyUsers } from '../../lib/kysely.js'
import type { OAuthOptions } from '../../lib/config/oauth.js'
import { SECRET } from './app.js'
import { freePort } from './redis.js'
import type { TestTls } from './test-ca.js'
import type { Browser } from './browser.js'
import { signInAt, startProvider } from './oidc-provider.js'

export interface OAuthApp {
  app: FastifyInstance
  baseUrl: string
  db: Kysely<any>
  users: KyselyUsers
  events: AuthEvent[]
  close (): Promise<void>
}

/** A free port for the app, first: the provider's client is registered with the app's callback URL. */
export async function appAddress (): Promise<{ port: number, baseUrl: string }> {
  const port = await freePort()
  return { port, baseUrl: `https://127.0.0.1:${port}` }
}

export async function startOAuthApp (
  tls: TestTls, address: { port: number, baseUrl: string },
  oauth: Omit<OAuthOptions, 'baseUrl'> & { baseUrl?: string }, options: Partial<JwtAuthOptions> = {}
): Promise<OAuthApp> {
  const db = new Kysely<any>({ dialect: sqliteDialect(':memory:') })
  await migrateToLatest(db)
  const users = kyselyUsers(db, { defaultRoles: ['user'] })
  const events: AuthEvent[] = []
  const app = Fastify({ https: { key: tls.key, cert: tls.cert } })
  await app.register(jwtAuth, {
    secret: SECRET,
    store: memoryStore(),
    rateLimit: false,
    users,
    routes: { captcha: false },
    onEvent: (event) => { events.push(event) },
    ...options,
    oauth: { baseUrl: address.baseUrl, ...oauth }
  } as JwtAuthOptions)
  app.get('/private', { onRequest: app.authenticate }, async (request) => ({ user: request.user, claims: request.auth!.claims }))
  await app.listen({ port: address.port, host: '127.0.0.1' })
  return {
    app,
    baseUrl: address.baseUrl,
    db,
    users,
    events,
    close: async () => { await app.close(); await db.destroy() }
  }
}

/** The app as a client of the test OpenID Provider. */
export const APP_CLIENT = { clientId: 'app', clientSecret: 'a-client-secret' } as const

/**
 * The app's address, and an OpenID Provider started here where the app is a client for its `providers` (their
 * callbacks), stopped when the file's tests end.
 */
export async function appAndProvider (t: Test, tls: TestTls, providers = ['test']) {
  const address = await appAddress()
  const op = await startProvider(tls, [{
    client_id: APP_CLIENT.clientId,
    client_secret: APP_CLIENT.clientSecret,
    redirect_uris: providers.map((name) => `${address.baseUrl}/auth/oauth/${name}/callback`)
  }])
  t.teardown(() => op.close())
  return { address, op }
}

/** The browser's way from the app's sign-in route (with `query`) to the landing URL: the hops at the app. */
export async function signIn (browser: Browser, app: OAuthApp, account: string, issuer: string, query = '') {
  const begin = await browser.request(`${app.baseUrl}/auth/oauth/test${query}`)
  if (begin.status !== 302) return { begin }
  const back = await signInAt(browser, begin.location!, account, issuer)
  const callback = await browser.request(back.location!)
  return { begin, back, callback }
}

/** Spends the one-time code of the landing URL at POST /oauth/exchange. */
export async function exchange (browser: Browser, app: OAuthApp, landing: string) {
  const code = new URL(landing).searchParams.get('code')!
  return await browser.request(`${app.baseUrl}/auth/oauth/exchange`, { json: { code } })
}
