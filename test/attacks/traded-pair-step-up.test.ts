// Found by an attack review: issue() gave auth_time = now by default, so the migration guide's /auth/upgrade (a
// legacy token traded for a pair; "your old refresh endpoint can do the same") minted a session that met any
// authorize({ maxAge }) although nobody authenticated: a day-old token bought a fresh auth_time, again and again.
import fastifyJwt from '@fastify/jwt'
import Fastify from 'fastify'
import t from 'tap'
import jwtAuth, { type JwtAuthOptions } from '../../lib/index.js'
import { bearer, decodePart, SECRET, USERS } from '../helpers/app.js'

const OLD_SECRET = 'the-secret-of-the-old-fastify-jwt-set-up'

t.test('a legacy token traded per the migration guide does not pass a maxAge step-up', async (t) => {
  const old = Fastify()
  await old.register(fastifyJwt, { secret: OLD_SECRET })
  await old.ready()
  t.teardown(() => old.close())
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET,
    users: { findById: async (id: string) => USERS.find((user) => String(user.id) === id) ?? null },
    legacy: { secret: OLD_SECRET, algorithms: ['HS256'], until: new Date(Date.now() + 86_400_000) }
  } as JwtAuthOptions)
  // docs/guides/migrating-from-fastify-jwt.md, "The switch", verbatim.
  app.post('/auth/upgrade', { onRequest: app.authenticate }, async (request, reply) => {
    if (request.auth?.issuer !== 'legacy') return reply.code(400).send({ message: 'Already upgraded' })
    return app.jwtAuth.issue({ id: request.auth.claims.sub as string })
  })
  app.post('/transfer', { onRequest: app.authorize({ maxAge: '5m' }) }, async () => ({ ok: true }))
  await app.ready()
  t.teardown(() => app.close())
  // The user logged in with the old set-up 20 hours ago.
  const dayOld = old.jwt.sign({ sub: String(USERS[0]!.id), iat: Math.floor(Date.now() / 1000) - 72_000 }, { expiresIn: '1d' })
  const upgraded = (await app.inject({ method: 'POST', url: '/auth/upgrade', headers: bearer(dayOld) })).json()
  t.ok(upgraded.accessToken, 'the trade works')
  t.notOk('auth_time' in decodePart(upgraded.accessToken, 1), 'the traded pair claims no authentication')
  const step = await app.inject({ method: 'POST', url: '/transfer', headers: bearer(upgraded.accessToken) })
  t.equal(step.statusCode, 401, 'no one authenticated in the last 5 minutes: insufficient_user_authentication')
})
