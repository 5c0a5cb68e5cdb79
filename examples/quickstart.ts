// A quick start with a login route of its own (docs/getting-started.md, "Your own login route"), runnable:
// `npm run example:quickstart`, then follow the printed curl commands. In-memory store, no Redis needed.
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import jwtAuth, { hashPassword, verifyPassword } from 'fastify-jwt-auth'

interface User { id: number, username: string, passwordHash: string, roles: string[] }

const users: User[] = [
  { id: 1, username: 'alice', passwordHash: await hashPassword('alice-password'), roles: ['admin'] },
  { id: 2, username: 'bob', passwordHash: await hashPassword('bob-password'), roles: ['user'] }
]

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })

await app.register(jwtAuth, {
  // Use a fixed secret from the environment in production: a random one logs everybody out on restart.
  secret: process.env.JWT_SECRET ?? randomBytes(32),
  issuer: 'example-api',
  audience: 'example-app',
  users: {
    findById: async (id) => {
      const user = users.find((candidate) => String(candidate.id) === id)
      return user === undefined ? null : { id: user.id, username: user.username, roles: user.roles }
    }
  }
})

app.get('/', async () => ({ hello: 'world' }))

// A minimal login; the plugin's own /auth routes (captcha, rate limiting) come with `routes: true`.
app.post<{ Body: { username: string, password: string } }>('/login', {
  schema: {
    body: {
      type: 'object',
      required: ['username', 'password'],
      properties: { username: { type: 'string', maxLength: 128 }, password: { type: 'string', maxLength: 1024 } }
    }
  }
}, async (request, reply) => {
  const user = users.find((candidate) => candidate.username === request.body.username)
  if (user === undefined || !(await verifyPassword(user.passwordHash, request.body.password))) {
    return reply.code(401).send({ message: 'wrong username or password' })
  }
  return app.jwtAuth.issue(user)
})

app.post<{ Body: { refreshToken: string } }>('/refresh', async (request) => app.jwtAuth.refresh(request.body.refreshToken))

app.post('/logout', { onRequest: app.authenticate }, async (request, reply) => {
  await app.jwtAuth.revoke(request.auth!.token)
  return reply.code(204).send()
})

app.get('/me', { onRequest: app.authenticate }, async (request) => request.user)
app.get('/admin', { onRequest: app.authorize('admin') }, async () => ({ secret: 'admins only' }))

const port = Number(process.env.PORT ?? 3000)
await app.listen({ port, host: process.env.HOST ?? '127.0.0.1' })
const base = `http://127.0.0.1:${port}`
console.log(`
Try it:
  TOKEN=$(curl -s -X POST ${base}/login -H 'content-type: application/json' \\
    -d '{"username":"alice","password":"alice-password"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).accessToken')
  curl -i ${base}/me -H "authorization: Bearer $TOKEN"
  curl -i ${base}/admin -H "authorization: Bearer $TOKEN"
  curl -i ${base}/me            # 401 with a WWW-Authenticate challenge
`)
