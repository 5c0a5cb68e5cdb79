// A small but real API with fastify-jwt-auth: `npm run example`, then open http://127.0.0.1:3000/docs
//
// - public route, user route, admin-only route
// - the plugin's routes under /auth with captcha, rate limiting and lockout; password change, forgot/reset and
//   email verification, whose "mailer" prints the links to the log (an example only: never log tokens)
// - Swagger UI at /docs, whose Authorize button logs in through /auth/swagger-login (development only)
// - users in a database through fastify-jwt-auth/kysely: SQLite in examples/data/ (created and migrated at the
//   first start, alice and bob seeded once, kept across restarts), or PostgreSQL when DATABASE_URL is set
// - in-memory store, or Redis when REDIS_URL is set
// - passkeys, and a page to try them in a browser at http://localhost:3000 (examples/passkeys-demo/); TOTP as a
//   second factor (MFA_KEY encrypts the secrets), which a passkey can also complete
// - a development aid of this example only: each captcha's answer is written to the log, so that the walk-through
//   (docs/getting-started.md) needs no SVG viewer. The library never logs an answer.
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance } from 'fastify'
import jwtAuth, { hashPassword, memoryStore, UsernameTakenError } from 'fastify-jwt-auth'
import { kyselyUsers, migrateToLatest, sqliteDialect } from 'fastify-jwt-auth/kysely'
import { redisStore } from 'fastify-jwt-auth/redis'
import { Kysely, PostgresDialect, type Dialect } from 'kysely'
import svgCaptcha from 'svg-captcha'
import { passkeysDemo, wantsHtml } from './passkeys-demo.js'

export interface ExampleOptions {
  logger?: boolean
  /** Passwords of alice and bob when they are seeded (the first start); the defaults are printed at start. */
  passwords?: { alice: string, bob: string }
  /**
   * The SQLite file of the users (':memory:' for none): default DATABASE_FILE, else examples/data/example.sqlite.
   * Unused when DATABASE_URL is set.
   */
  databaseFile?: string
}

export const DEFAULT_PASSWORDS = { alice: 'alice-password', bob: 'bob-password' }
export const DEFAULT_DATABASE_FILE = fileURLToPath(new URL('data/example.sqlite', import.meta.url))

/** PostgreSQL when DATABASE_URL is set (pg is loaded only then), else a SQLite file through node:sqlite. */
async function dialect (file: string): Promise<{ dialect: Dialect, where: string }> {
  const url = process.env.DATABASE_URL
  if (url !== undefined && url !== '') {
    const { default: pg } = await import('pg')
    return { dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }), where: 'postgresql' }
  }
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
  return { dialect: sqliteDialect(file), where: `sqlite (${file})` }
}

/**
 * Passkeys of the page at /: for rpID localhost, on http://localhost:PORT (a secure context without TLS), unless
 * PASSKEY_RP_ID and PASSKEY_ORIGINS (comma-separated) say otherwise.
 */
export function passkeySettings (env = process.env): { rpID: string, rpName: string, origins: string[] } {
  const origins = (env.PASSKEY_ORIGINS ?? '').split(',').map((origin) => origin.trim()).filter((origin) => origin !== '')
  return {
    rpID: env.PASSKEY_RP_ID ?? 'localhost',
    rpName: 'fastify-jwt-auth example',
    origins: origins.length > 0 ? origins : [`http://localhost:${env.PORT ?? 3000}`]
  }
}

/** alice (admin, address verified) and bob, the first time only: a name that is taken is left as it is. */
async function seed (db: Kysely<any>, passwords: { alice: string, bob: string }): Promise<void> {
  const seeds = [
    { username: 'alice', displayName: 'Alice', email: 'alice@example.test', roles: ['admin', 'user'], verified: true },
    { username: 'bob', displayName: 'Bob', email: 'bob@example.test', roles: ['user'], verified: false }
  ] as const
  for (const { username, roles, verified, ...profile } of seeds) {
    const users = kyselyUsers(db, { defaultRoles: roles })
    if (await users.findByLogin(username) !== null) continue
    try {
      const user = await users.create({ username, passwordHash: await hashPassword(passwords[username]), ...profile })
      if (verified) await users.markEmailVerified((user as { id: string }).id)
    } catch (error) {
      // Another instance starting at the same time seeded it.
      if (!(error instanceof UsernameTakenError)) throw error
    }
  }
}

export async function buildServer ({
  logger = true, passwords = DEFAULT_PASSWORDS, databaseFile = process.env.DATABASE_FILE ?? DEFAULT_DATABASE_FILE
}: ExampleOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: logger ? { level: process.env.LOG_LEVEL ?? 'info' } : false })

  // @fastify/swagger first: the plugin then documents its bearer and password-flow schemes.
  await app.register(swagger, { openapi: { info: { title: 'fastify-jwt-auth example', version: '1.0.0' } } })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: false } })

  // REDIS_URL=redis://127.0.0.1:6379 npm run example: several instances then share logins and logouts.
  const store = process.env.REDIS_URL === undefined ? memoryStore() : redisStore({ url: process.env.REDIS_URL, keyPrefix: 'jwt-auth-example:' })
  app.addHook('onClose', async () => { await store.close() })
  app.log.info(`store: ${process.env.REDIS_URL === undefined ? 'memory' : 'redis'}`)

  // The app owns its Kysely instance: the plugin's tables are created (or brought up to date) at every start.
  const database = await dialect(databaseFile)
  const db = new Kysely<any>({ dialect: database.dialect })
  app.addHook('onClose', async () => { await db.destroy() })
  await migrateToLatest(db)
  await seed(db, passwords)
  app.log.info(`users: ${database.where}`)

  const secret = process.env.JWT_SECRET
  if (secret === undefined) app.log.warn('JWT_SECRET is not set: using a random secret, so tokens die with the process')
  const mfaKey = process.env.MFA_KEY
  if (mfaKey === undefined) {
    app.log.warn('MFA_KEY is not set: using a random key, so TOTP set up now does not open after a restart')
  }

  await app.register(jwtAuth, {
    secret: secret ?? randomBytes(32),
    issuer: 'fastify-jwt-auth-example',
    audience: 'example-clients',
    store,
    routes: {
      captcha: {
        // DEVELOPMENT AID OF THIS EXAMPLE ONLY, never in production: the answer goes to the log, so that the
        // walk-through can be followed in a terminal. The plugin's own generator (captcha: true) logs nothing.
        create: () => {
          const { text, data } = svgCaptcha.create({ size: 5, noise: 2, ignoreChars: '0oO1iIlL' })
          app.log.info(`captcha answer (example only): ${text}`)
          return { text, svg: data }
        }
      },
      swaggerLogin: true,
      // Register's profile fields: kept in the users table (its JSON profile column; email in its own, unique).
      profile: { displayName: { type: 'string', maxLength: 100 }, email: { type: 'string', format: 'email', maxLength: 254 } },
      // Your mailer goes here. The example logs the links, so that the walk-through can follow them (never log tokens).
      passwordReset: {
        send: ({ user, token }) => { app.log.info(`password reset for ${String(user.username)}: /reset-password?token=${token}`) }
      },
      emailVerification: {
        send: ({ user, token }) => { app.log.info(`email verification for ${String(user.username)}: /verify-email?token=${token}`) }
      }
    },
    // Passkeys (WebAuthn): the page at / tries them in a browser.
    passkeys: passkeySettings(),
    // Second factors: TOTP (POST /auth/mfa/totp/setup), then a passkey also completes the login's second step.
    mfa: { encryptionKey: mfaKey ?? randomBytes(32), totp: { issuer: 'fastify-jwt-auth example' } },
    // Audit events, to the log (a real app would keep them).
    onEvent: (event) => { app.log.info({ event }, `auth event: ${event.type}`) },
    // findById, findByLogin, create (folded names and addresses unique), updatePasswordHash, markEmailVerified.
    users: kyselyUsers(db, { defaultRoles: ['user'] })
  })

  // A browser opening the home page gets the page to try passkeys; curl and fetch get JSON.
  const { page } = passkeysDemo(app)
  app.get('/', { schema: { summary: 'Public: no token needed' } as object }, async (request, reply) => {
    if (wantsHtml(request)) return reply.type('text/html; charset=utf-8').send(page)
    return { hello: 'world', docs: '/docs', login: 'GET /auth/captcha, then POST /auth/login' }
  })

  app.get('/api/profile', { onRequest: app.authenticate, schema: { summary: 'Any logged-in user' } as object }, async (request) => ({
    user: request.user,
    session: { expiresAt: new Date(request.auth!.claims.exp * 1000).toISOString() }
  }))

  // Your own queries on the users table: what an admin screen lists (never the hashes).
  app.get('/api/admin/users', { onRequest: app.authorize('admin'), schema: { summary: 'Admins only' } as object }, async () =>
    (await db.selectFrom('users').select(['id', 'username', 'email', 'roles', 'created_at']).orderBy('created_at').execute())
      .map(({ roles, created_at: createdAt, ...user }) => ({ ...user, roles: JSON.parse(roles), createdAt })))

  app.get('/api/sessions', { onRequest: app.authenticate, schema: { summary: 'Your live logins' } as object }, async (request) =>
    app.jwtAuth.sessions(request.auth!.claims.sub))

  return app
}

// Run directly (npm run example): listen and print a walk-through.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = await buildServer()
  const port = Number(process.env.PORT ?? 3000)
  const host = process.env.HOST ?? '127.0.0.1'
  await app.listen({ port, host })
  const base = `http://${host}:${port}`
  const kept = process.env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `${process.env.DATABASE_FILE ?? DEFAULT_DATABASE_FILE} (delete it to start afresh)`
  console.log(`
fastify-jwt-auth example on ${base}  (Swagger UI: ${base}/docs)
Users: alice / ${DEFAULT_PASSWORDS.alice} (admin), bob / ${DEFAULT_PASSWORDS.bob}, as seeded at the first start; kept in ${kept}
Walk-through with curl: docs/getting-started.md (each captcha's answer appears in this log: an aid of the example only).
Passkeys: open ${passkeySettings().origins[0]}/ in a browser (docs/guides/passkeys.md).
`)
}
