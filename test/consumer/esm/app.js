// README, "Quick start": the ES module version ("the TypeScript one without the `!`"), in a function so that a
// test can build the app with its own user lookup (`users.findById`, README "Options").
import Fastify from 'fastify'
import jwtAuth from 'fastify-jwt-auth'

export async function build ({ users } = {}) {
  const app = Fastify()
  await app.register(jwtAuth, { secret: process.env.JWT_SECRET, issuer: 'my-api', audience: 'my-app', users })

  app.get('/', async () => ({ hello: 'world' }))
  app.get('/me', { onRequest: app.authenticate }, async (request) => request.user)
  app.get('/admin', { onRequest: app.authorize('admin') }, async () => 'admins only')
  return app
}
