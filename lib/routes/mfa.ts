import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Mfa, SetupContext } from '../factors/mfa.js'
import { noStore, sessionMetadata, type RoutesContext } from './context.js'
import {
  errorResponses, recoveryCodesResponse, routeSchema, totpConfirmBody, totpSetupResponse
} from './schemas.js'

/** The caller's session, for the setup it starts or confirms: the same session does both. */
function setupContext (request: FastifyRequest): SetupContext {
  const { claims } = request.auth!
  return { familyId: claims.fam, user: request.user, metadata: sessionMetadata(request) }
}

/** POST /mfa/totp/setup and /mfa/totp/confirm: a logged-in user turns TOTP on. */
async function enrolmentRoutes (app: FastifyInstance, context: RoutesContext, mfa: Mfa): Promise<void> {
  const { authenticate, routeConfig } = context
  app.post('/mfa/totp/setup', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({
      summary: 'Start a TOTP setup: a new secret, in use once a code of it is confirmed (a new setup replaces it)',
      tags: ['mfa'],
      response: { 200: totpSetupResponse, ...errorResponses(400, 401, 403, 409, 429, 503) }
    })
  }, async (request, reply) => {
    const enrolment = await mfa.setupTotp(request.auth!.claims.sub, setupContext(request))
    noStore(reply)
    return enrolment
  })

  app.post<{ Body: { code: string } }>('/mfa/totp/confirm', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({
      summary: 'Turn TOTP on with a first code of this session\'s setup; answers the recovery codes, shown once',
      tags: ['mfa'],
      body: totpConfirmBody,
      response: { 200: recoveryCodesResponse, ...errorResponses(400, 401, 403, 409, 429, 503) }
    })
  }, async (request, reply) => {
    const codes = await mfa.confirmTotp(request.auth!.claims.sub, request.body.code, setupContext(request))
    noStore(reply)
    return codes
  })
}

export async function mfaRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  if (context.mfa === null) return
  await enrolmentRoutes(app, context, context.mfa)
}
