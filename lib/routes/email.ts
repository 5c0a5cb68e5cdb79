import type { FastifyInstance } from 'fastify'
import { sessionMetadata, type RoutesContext } from './context.js'
import { acceptedResponse, errorResponses, routeSchema, verifyBody } from './schemas.js'

/** POST /email/verify/request (logged in) and POST /email/verify (routes.emailVerification). */
export async function emailRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  if (context.routes.emailVerification === null) return
  const { authenticate, emailVerification, routeConfig } = context

  app.post('/email/verify/request', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({
      summary: 'Send a new email verification token to the logged-in user (none when already verified)',
      tags: ['auth'],
      response: { 202: acceptedResponse, ...errorResponses(400, 401, 403, 429, 503) }
    })
  }, async (request, reply) => {
    await emailVerification.request(request.auth!.claims.sub)
    return reply.code(202).send({ message: 'A verification message is on its way unless the address is verified' })
  })

  app.post<{ Body: { token: string } }>('/email/verify', {
    config: { ...routeConfig, public: true },
    schema: routeSchema({
      summary: 'Verify an email address with the token sent to it',
      tags: ['auth'],
      body: verifyBody,
      response: { 204: { type: 'null', description: 'Verified' }, ...errorResponses(400, 429, 503) }
    })
  }, async (request, reply) => {
    await emailVerification.verify(request.body.token, sessionMetadata(request))
    return reply.code(204).send()
  })
}
