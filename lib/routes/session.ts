import type { FastifyInstance } from 'fastify'
import { noStore, sessionMetadata, tokenResponse, type RoutesContext } from './context.js'
import { errorResponses, refreshBody, routeSchema, tokenPair, userResponse } from './schemas.js'

// Fields of a user record that never leave the server, whatever findById returns.
const SECRET_FIELDS = new Set(['passwordHash', 'password'])

// request.user is an object: the found user, or the token claims.
function withoutSecrets (user: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(user).filter(([key]) => !SECRET_FIELDS.has(key)))
}

export async function sessionRoutes (app: FastifyInstance, { api, authenticate, routeConfig }: RoutesContext): Promise<void> {
  app.post<{ Body: { refresh_token: string } }>('/refresh', {
    config: { ...routeConfig, public: true },
    schema: routeSchema({
      summary: 'Spend a refresh token for a new token pair (rotation)',
      tags: ['auth'],
      body: refreshBody,
      response: { 200: tokenPair, ...errorResponses(400, 401, 429, 503) }
    })
  }, async (request, reply) => {
    noStore(reply)
    return tokenResponse(await api.refresh(request.body.refresh_token, sessionMetadata(request)))
  })

  app.post('/logout', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({
      summary: 'Revoke the access token and every token of its session',
      tags: ['auth'],
      response: { 204: { type: 'null', description: 'Logged out' }, ...errorResponses(400, 401, 429, 503) }
    })
  }, async (request, reply) => {
    await api.revoke(request.auth!.token)
    return reply.code(204).send()
  })

  app.get('/me', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({
      summary: 'The authenticated user',
      tags: ['auth'],
      response: { 200: userResponse, ...errorResponses(400, 401, 429, 503) }
    })
  }, async (request) => withoutSecrets(request.user))
}
