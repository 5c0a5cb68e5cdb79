// A small but real API with fastify-jwt-auth: `npm run example`, then open http://127.0.0.1:3000/docs
//
// - public route, user route, admin-only route
// - the plugin's routes under /auth with captcha, rate limiting and lockout; password change, forgot/reset and
//   email verification, whose "mailer" prints the links to the log (an example only: never log tokens)
// - Swagger UI at /docs, whose Authorize button logs in through /auth/swagger-login (development only)
// - two seeded users with argon2id hashes; in-memory store, or Redis when REDIS_URL is set
// - a development aid of this example only: each captcha's answer is written to the log, so that the walk-through
//   (docs/getting-started.md) needs no SVG viewer. The library never logs an answer.
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance } from 'fastify'
import jwtAuth, { foldLogin, hashPassword, memoryStore, UsernameTakenError } from 'fastify-jwt-auth'
import { redisStore } from 'fastify-jwt-auth/redis'
import svgCaptcha from 'svg-captcha'

interface User {
  id: number
  username: string
  passwordHash: string
  roles: string[]
  displayName: string
  email: string
  emailVerified: boolean
}

export interface ExampleOptions {
  logger?: boolean
  /** Seeded passwords; the defaults are printed when the server starts. */
  passwords?: { alice: string, bob: string }
}

export const DEFAULT_PASSWORDS = { alice: 'alice-password', bob: 'bob-password' }

export async function buildServer ({ logger = true, passwords = DEFAULT_PASSWORDS }: ExampleOptions = {}): Promise<FastifyInstance> {
  const users: User[] = [
    { id: 1, username: 'alice', passwordHash: await hashPassword(passwords.alice), roles: ['admin', 'user'], displayName: 'Alice', email: 'alice@example.test', emailVerified: true },
    { id: 2, username: 'bob', passwordHash: await hashPassword(passwords.bob), roles: ['user'], displayName: 'Bob', email: 'bob@example.test', emailVerified: false }
  ]
  const byId = (id: string) => users.find((candidate) => String(candidate.id) === id)
  // By the folded name, as a database would with a unique index on a column holding foldLogin(username): Alice
  // logs in as alice, and no look-alike of a name can be registered next to it.
  const byLogin = (login: string) => users.find((candidate) => foldLogin(candidate.username) === foldLogin(login))
  const publicUser = ({ passwordHash, ...user }: User) => user

  const app = Fastify({ logger: logger ? { level: process.env.LOG_LEVEL ?? 'info' } : false })

  // @fastify/swagger first: the plugin then documents its bearer and password-flow schemes.
  await app.register(swagger, { openapi: { info: { title: 'fastify-jwt-auth example', version: '1.0.0' } } })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: false } })

  // REDIS_URL=redis://127.0.0.1:6379 npm run example: several instances then share logins and logouts.
  const store = process.env.REDIS_URL === undefined ? memoryStore() : redisStore({ url: process.env.REDIS_URL, keyPrefix: 'jwt-auth-example:' })
  app.addHook('onClose', async () => { await store.close() })
  app.log.info(`store: ${process.env.REDIS_URL === undefined ? 'memory' : 'redis'}`)

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
      profile: { displayName: { type: 'string', maxLength: 100 } },
      // Your mailer goes here. The example logs the links, so that the walk-through can follow them (never log tokens).
      passwordReset: {
        send: ({ user, token }) => { app.log.info(`password reset for ${String(user.username)}: /reset-password?token=${token}`) }
      },
      emailVerification: {
        send: ({ user, token }) => { app.log.info(`email verification for ${String(user.username)}: /verify-email?token=${token}`) }
      }
    },
    // Audit events, to the log (a real app would keep them).
    onEvent: (event) => { app.log.info({ event }, `auth event: ${event.type}`) },
    users: {
      findById: async (id) => {
        const user = byId(id)
        return user === undefined ? null : publicUser(user)
      },
      findByLogin: async (login) => byLogin(login) ?? null,
      create: async ({ username, passwordHash, displayName }) => {
        // The check and the insert in one step, as the unique index does it: of two registrations at once, one wins.
        if (byLogin(username) !== undefined) throw new UsernameTakenError()
        const user = { id: users.length + 1, username, passwordHash, roles: ['user'], displayName: String(displayName ?? username), email: `${username}@example.test`, emailVerified: false }
        users.push(user)
        return publicUser(user)
      },
      updatePasswordHash: async (id, passwordHash) => {
        const user = byId(id)
        if (user !== undefined) user.passwordHash = passwordHash
      },
      markEmailVerified: async (id) => {
        const user = byId(id)
        if (user !== undefined) user.emailVerified = true
      }
    }
  })

  app.get('/', { schema: { summary: 'Public: no token needed' } as object }, async () => ({
    hello: 'world',
    docs: '/docs',
    login: 'GET /auth/captcha, then POST /auth/login'
  }))

  app.get('/api/profile', { onRequest: app.authenticate, schema: { summary: 'Any logged-in user' } as object }, async (request) => ({
    user: request.user,
    session: { expiresAt: new Date(request.auth!.claims.exp * 1000).toISOString() }
  }))

  app.get('/api/admin/users', { onRequest: app.authorize('admin'), schema: { summary: 'Admins only' } as object }, async () =>
    users.map(publicUser))

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
  console.log(`
fastify-jwt-auth example on ${base}  (Swagger UI: ${base}/docs)
Users: alice / ${DEFAULT_PASSWORDS.alice} (admin), bob / ${DEFAULT_PASSWORDS.bob}
Walk-through with curl: docs/getting-started.md (each captcha's answer appears in this log: an aid of the example only).
`)
}
