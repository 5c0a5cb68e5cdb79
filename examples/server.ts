// A small but real API with fastify-jwt-auth: `npm run example`, then open http://127.0.0.1:3000/docs
//
// - public route, user route, admin-only route
// - the plugin's routes under /auth with captcha, rate limiting and lockout; password change, forgot/reset and
//   email verification, whose "mailer" prints the links to the log (an example only: never log tokens)
// - Swagger UI at /docs, whose Authorize button logs in through /auth/swagger-login (development only)
// - users in a database through fastify-jwt-auth/kysely: SQLite in examples/data/ (created and migrated at the
//   first start, alice, bob and dana seeded once, kept across restarts), or PostgreSQL when DATABASE_URL is set
// - two-factor authentication (TOTP and recovery codes): dana has it on from her seeding, whose log line gives her
//   TOTP secret once (a development aid of this example: a real app shows a secret to its user only)
// - in-memory store, or Redis when REDIS_URL is set
// - sign in with an OpenID Provider: `npm run example:oidc` starts a development provider of the example's own
//   (examples/dev-provider.ts) and signs in with it at http://localhost:3000/auth/oauth/dev
// - passkeys, and a page to try them in a browser at http://localhost:3000 (examples/passkeys-demo/); a passkey
//   also completes the second step of a login with TOTP
// - a development aid of this example only: each captcha's answer is written to the log, so that the walk-through
//   (docs/getting-started.md) needs no SVG viewer. The library never logs an answer.
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance } from 'fastify'
import jwtAuth, { hashPassword, memoryStore, UsernameTakenError } from 'fastify-jwt-auth'
import { kyselyUsers, migrateToLatest, sqliteDialect } from 'fastify-jwt-auth/kysely'
import { redisStore } from 'fastify-jwt-auth/redis'
import { totpCode } from 'fastify-jwt-auth/testing'
import { startDevProvider } from './dev-provider.js'
import { Kysely, PostgresDialect, type Dialect } from 'kysely'
import svgCaptcha from 'svg-captcha'
import { passkeysDemo, wantsHtml } from './passkeys-demo.js'

export interface ExampleOptions {
  logger?: boolean
  /** Passwords of alice, bob and dana when they are seeded (the first start); the defaults are printed at start. */
  passwords?: Passwords
  /**
   * The SQLite file of the users (':memory:' for none): default DATABASE_FILE, else examples/data/example.sqlite.
   * Unused when DATABASE_URL is set.
   */
  databaseFile?: string
}

export const DEFAULT_PASSWORDS = { alice: 'alice-password', bob: 'bob-password', dana: 'dana-password' }
type Passwords = typeof DEFAULT_PASSWORDS
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

/**
 * alice (admin, address verified), bob and dana, the first time only: a name that is taken is left as it is.
 * Resolves to the ids of those seeded now.
 */
async function seed (db: Kysely<any>, passwords: Passwords): Promise<Map<string, string>> {
  const seeds = [
    { username: 'alice', displayName: 'Alice', email: 'alice@example.test', roles: ['admin', 'user'], verified: true },
    { username: 'bob', displayName: 'Bob', email: 'bob@example.test', roles: ['user'], verified: false },
    { username: 'dana', displayName: 'Dana', email: 'dana@example.test', roles: ['user'], verified: true }
  ] as const
  const seeded = new Map<string, string>()
  for (const { username, roles, verified, ...profile } of seeds) {
    const users = kyselyUsers(db, { defaultRoles: roles })
    if (await users.findByLogin(username) !== null) continue
    try {
      const user = await users.create({ username, passwordHash: await hashPassword(passwords[username]), ...profile })
      const { id } = user as { id: string }
      if (verified) await users.markEmailVerified(id)
      seeded.set(username, id)
    } catch (error) {
      // Another instance starting at the same time seeded it.
      if (!(error instanceof UsernameTakenError)) throw error
    }
  }
  return seeded
}

/**
 * The key that encrypts TOTP secrets at rest: MFA_ENCRYPTION_KEY, else a development key kept beside the SQLite
 * file (made at the first start), since dana's secret must still open after a restart. A real app keeps it in a
 * secret manager, apart from the database.
 */
function mfaEncryptionKey (databaseFile: string, log: FastifyInstance['log']): string {
  if (process.env.MFA_ENCRYPTION_KEY !== undefined) return process.env.MFA_ENCRYPTION_KEY
  const onDisk = process.env.DATABASE_URL !== undefined || databaseFile !== ':memory:'
  if (!onDisk) return randomBytes(32).toString('base64url')
  const kept = `${process.env.DATABASE_URL === undefined ? databaseFile : DEFAULT_DATABASE_FILE}.mfa-key`
  mkdirSync(dirname(kept), { recursive: true })
  try {
    writeFileSync(kept, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' })
  } catch (error) {
    // Made at an earlier start (or by another instance starting now).
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  log.warn(`MFA_ENCRYPTION_KEY is not set: using the development key in ${kept}`)
  return readFileSync(kept, 'utf8').trim()
}

/**
 * Turns dana's TOTP on, as she would with her authenticator app (the testing kit's totpCode computes the code the
 * app would show); her secret is logged this once.
 */
async function enrolDana (app: FastifyInstance, id: string): Promise<void> {
  const { secret } = await app.jwtAuth.mfa.setupTotp(id)
  // The code of the time step before this one (still accepted: window 1), so that this step's code is not spent
  // and a login right after the start (the walk-through's test) can give it.
  await app.jwtAuth.mfa.confirmTotp(id, totpCode(secret, { timestamp: Date.now() - 30_000 }))
  app.log.info(`TOTP secret of dana (example only, shown once): ${secret}`)
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
  const seeded = await seed(db, passwords)
  app.log.info(`users: ${database.where}`)

  // npm run example:oidc: a development OpenID Provider, and the example as its client (see dev-provider.ts).
  const baseUrl = process.env.BASE_URL ?? `http://localhost:${process.env.PORT ?? 3000}`
  const devProvider = process.env.DEV_OIDC !== '1'
    ? null
    : await startDevProvider(Number(process.env.DEV_OIDC_PORT ?? 3001), `${baseUrl}/auth/oauth/dev/callback`)
  if (devProvider !== null) app.addHook('onClose', devProvider.close)

  const secret = process.env.JWT_SECRET
  if (secret === undefined) app.log.warn('JWT_SECRET is not set: using a random secret, so tokens die with the process')

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
    // TOTP and recovery codes (routes under /auth/mfa), sealed in the users table under this key.
    mfa: { encryptionKey: mfaEncryptionKey(databaseFile, app.log), totp: { issuer: 'fastify-jwt-auth example' } },
    // Passkeys (WebAuthn): the page at / tries them in a browser.
    passkeys: passkeySettings(),
    // Sign in with the development provider (npm run example:oidc); its addresses are verified ones, so a sign-in
    // as alice links to alice. The landing page spends the one-time code for the pair.
    ...(devProvider !== null && {
      oauth: {
        baseUrl,
        providers: {
          dev: { issuer: devProvider.issuer, clientId: devProvider.clientId, clientSecret: devProvider.clientSecret, linkVerifiedEmail: true }
        },
        successRedirect: `${baseUrl}/signed-in`
      }
    }),
    // Audit events, to the log (a real app would keep them).
    onEvent: (event) => { app.log.info({ event }, `auth event: ${event.type}`) },
    // findById, findByLogin, create (folded names and addresses unique), updatePasswordHash, markEmailVerified.
    users: kyselyUsers(db, { defaultRoles: ['user'] })
  })
  if (seeded.has('dana')) await enrolDana(app, seeded.get('dana')!)

  // A browser opening the home page gets the page to try passkeys; curl and fetch get JSON.
  const { page } = passkeysDemo(app)
  app.get('/', { schema: { summary: 'Public: no token needed' } as object }, async (request, reply) => {
    if (wantsHtml(request)) return reply.type('text/html; charset=utf-8').send(page)
    return { hello: 'world', docs: '/docs', login: 'GET /auth/captcha, then POST /auth/login' }
  })

  // Where a provider sign-in lands (?code=...): the page spends the code, as an SPA would.
  app.get('/signed-in', { schema: { hide: true } as object }, async (_request, reply) => reply.type('text/html').send(SIGNED_IN_PAGE))

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

const SIGNED_IN_PAGE = `<!doctype html><meta charset="utf-8"><title>Signed in</title>
<pre id="out">Exchanging the code...</pre>
<script type="module">
  const code = new URL(location.href).searchParams.get('code')
  const answer = await fetch('/auth/oauth/exchange', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code })
  })
  const body = await answer.json()
  const me = body.access_token === undefined
    ? body
    : await (await fetch('/auth/me', { headers: { authorization: 'Bearer ' + body.access_token } })).json()
  document.getElementById('out').textContent = answer.status + ' ' + JSON.stringify(me, null, 2)
</script>`

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
Users: alice / ${DEFAULT_PASSWORDS.alice} (admin), bob / ${DEFAULT_PASSWORDS.bob}, dana / ${DEFAULT_PASSWORDS.dana} (TOTP on),
as seeded at the first start; kept in ${kept}
${process.env.DEV_OIDC === '1' ? `Sign in with the development provider: http://localhost:${port}/auth/oauth/dev (any name, any password)\n` : ''}Walk-through with curl: docs/getting-started.md (each captcha's answer appears in this log: an aid of the example only).
Passkeys: open ${passkeySettings().origins[0]}/ in a browser (docs/guides/passkeys.md).
`)
}
