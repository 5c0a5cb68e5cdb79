import { createDecoder } from 'fast-jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { checkCsrf, clearTokenCookies, CSRF_HEADER } from '../request/cookies.js'
import { InvalidRequestError } from '../errors.js'
import { withoutSecrets } from '../users/without-secrets.js'
import { sendTokens, sessionMetadata, type RoutesContext } from './context.js'
import { errorResponses, refreshBody, routeSchema, tokenPair, userResponse } from './schemas.js'

// Reads a claim before verification, only to check the CSRF proof first;
// refresh() then verifies the whole token, that claim included.
const decodeUnverified = createDecoder()

/** The refresh token of a request: in the body, or (with cookies) in its cookie, which then needs the CSRF proof. */
function refreshTokenOf (
  context: RoutesContext,
  request: FastifyRequest<{ Body: { refresh_token?: string } | undefined }>
): { token: string, fromCookie: boolean } {
  const inBody = request.body?.refresh_token
  const { cookies } = context.config
  const inCookie = cookies === null ? undefined : request.cookies[cookies.names.refresh]
  if (inBody !== undefined && inCookie !== undefined) {
    throw new InvalidRequestError('Send the refresh token in the body or in the cookie, not both')
  }
  if (inBody !== undefined) return { token: inBody, fromCookie: false }
  if (inCookie === undefined || inCookie === '') throw new InvalidRequestError('refresh_token is required')
  let boundHash: unknown
  try {
    boundHash = (decodeUnverified(inCookie) as { csh?: unknown }).csh
  } catch {
    // malformed: refresh() answers with the right 401
    return { token: inCookie, fromCookie: true }
  }
  // A cookie is sent by the browser on its own: a refresh through it always needs the proof. A token without a
  // CSRF binding (issued by issue() to a bearer client, then planted in the cookie) has none to give.
  checkCsrf(request, boundHash)
  return { token: inCookie, fromCookie: true }
}

export async function sessionRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const { api, authenticate, routeConfig } = context
  app.post<{ Body: { refresh_token?: string } | undefined }>('/refresh', {
    config: { ...routeConfig, public: true },
    schema: routeSchema({
      summary: 'Spend a refresh token for a new token pair (rotation)',
      tags: ['auth'],
      // Keyed by content type: a bodiless cookie refresh is not validated as an empty JSON body.
      body: { content: { 'application/json': { schema: refreshBody } } },
      response: { 200: tokenPair, ...errorResponses(400, 401, 429, 503) }
    })
  }, async (request, reply) => {
    const { token, fromCookie } = refreshTokenOf(context, request)
    const pair = await api.refresh(token, sessionMetadata(request))
    // A cookie session keeps its CSRF token: the client just proved it holds it.
    return sendTokens(context, reply, pair, fromCookie ? request.headers[CSRF_HEADER] as string : undefined)
  })

  // A session that must set up a second factor (mfa.required) may still log out and read its user.
  app.post('/logout', {
    onRequest: authenticate,
    config: { ...routeConfig, mfaSetup: true },
    schema: routeSchema({
      summary: 'Revoke the access token and every token of its session',
      tags: ['auth'],
      response: { 204: { type: 'null', description: 'Logged out' }, ...errorResponses(400, 401, 429, 503) }
    })
  }, async (request, reply) => {
    await api.revoke(request.auth!.token, sessionMetadata(request))
    if (context.config.cookies !== null) clearTokenCookies(reply, context.config.cookies)
    return reply.code(204).send()
  })

  app.get('/me', {
    onRequest: authenticate,
    config: { ...routeConfig, mfaSetup: true },
    schema: routeSchema({
      summary: 'The authenticated user',
      tags: ['auth'],
      response: { 200: userResponse, ...errorResponses(400, 401, 429, 503) }
    })
  }, async (request) => withoutSecrets(request.user))
}
