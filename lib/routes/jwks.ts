import type { FastifyInstance } from 'fastify'
import type { RoutesContext } from './context.js'
import { routeSchema } from './schemas.js'

// Other services fetch the keys to verify tokens without any secret; they may
// cache them a while, which is why a retired key stays listed until its tokens expire.
const MAX_AGE_SECONDS = 300

export async function jwksRoute (app: FastifyInstance, { api, routes, routeConfig }: RoutesContext): Promise<void> {
  if (!routes.jwks) return
  app.get('/.well-known/jwks.json', {
    config: { ...routeConfig, public: true },
    schema: routeSchema({
      summary: 'The public keys that verify this service\'s tokens (RFC 7517)',
      tags: ['auth'],
      response: {
        200: {
          type: 'object',
          properties: { keys: { type: 'array', items: { type: 'object', additionalProperties: true } } }
        }
      }
    })
  }, async (request, reply) => {
    reply.header('cache-control', `public, max-age=${MAX_AGE_SECONDS}`)
    return api.jwks()
  })
}
