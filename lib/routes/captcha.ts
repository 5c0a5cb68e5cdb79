import type { FastifyInstance } from 'fastify'
import type { RoutesContext } from './context.js'
import { captchaResponse, errorResponses, routeSchema } from './schemas.js'

export async function captchaRoute (app: FastifyInstance, { captchas, routeConfig }: RoutesContext): Promise<void> {
  if (captchas === null) return
  app.get('/captcha', {
    config: { ...routeConfig, public: true },
    schema: routeSchema({
      summary: 'A one-time captcha for login and register',
      tags: ['auth'],
      response: { 200: captchaResponse, ...errorResponses(429, 503) }
    })
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    return captchas.issue()
  })
}
