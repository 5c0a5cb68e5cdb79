// README, "Quick start", the CommonJS block: no top-level await, so the routes are declared in a plugin of their
// own, which Fastify loads after jwtAuth. In a function so that a test can build the app with its own user lookup.
const Fastify = require('fastify')
const jwtAuth = require('fastify-jwt-auth')

function build ({ users } = {}) {
  const app = Fastify()
  app.register(jwtAuth, { secret: process.env.JWT_SECRET, issuer: 'my-api', audience: 'my-app', users })
  app.register(async (app) => { // loaded after jwtAuth: app.authenticate exists here
    app.get('/me', { onRequest: app.authenticate }, async (request) => request.user)
    app.get('/admin', { onRequest: app.authorize('admin') }, async () => 'admins only')
  })
  // Declared before jwtAuth has loaded (no await in CommonJS): public routes here say so, or they answer 500.
  app.get('/', { config: { public: true } }, async () => ({ hello: 'world' }))
  return app
}

module.exports = { build }
