// The plugin with sign-in with providers, served over HTTPS (a certificate of the test CA) on a free loopback
// port, with kyselyUsers on SQLite (the identities group of a real adapter) and its events recorded.
import Fastify, { type FastifyInstance } from 'fastify'
import { Kysely } from 'kysely'
import jwtAuth, { memoryStore, type AuthEvent, type JwtAuthOptions } from '../../lib/index.js'
import { kyselyUsers, migrateToLatest, sqliteDialect, type KyselyUsers } from '../../lib/kysely.js'
import type { OAuthOptions } from '../../lib/config/oauth.js'
import { SECRET } from './app.js'
import { freePort } from './redis.js'
import type { TestTls } from './test-ca.js'

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
