import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Mfa, SetupContext } from '../factors/mfa.js'
import { csrfBinding, noStore, sendTokens, sessionMetadata, type RoutesContext } from './context.js'
import { requestOptions } from './passkey-schemas.js'
import {
  errorResponses, mfaPasskeyOptionsBody, mfaVerifyBody, recoveryCodesResponse, routeSchema, tokenPair, totpConfirmBody,
  totpSetupResponse
} from './schemas.js'

interface VerifyBody { mfa_token: string, code?: string, recovery_code?: string, passkey?: unknown }

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
    config: { ...routeConfig, mfaSetup: true },
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
    config: { ...routeConfig, mfaSetup: true },
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

// Turning the factor off, or new codes, needs a recent proof with a second factor (login or POST /reauthenticate
// with a code): a stolen session, or a phished password, does not remove it.
const RECENT = { maxAge: 300, amr: ['otp'] }

/** DELETE /mfa/totp and POST /mfa/recovery-codes: a logged-in user who just proved a second factor. */
async function managementRoutes (app: FastifyInstance, context: RoutesContext, mfa: Mfa): Promise<void> {
  const { authenticate, routeConfig } = context
  const recent = app.authorize(RECENT)
  app.delete('/mfa/totp', {
    onRequest: authenticate,
    preHandler: recent,
    config: routeConfig,
    schema: routeSchema({
      summary: 'Turn TOTP off (and its recovery codes); needs a second factor proved within 5 minutes',
      tags: ['mfa'],
      response: { 204: { type: 'null', description: 'TOTP is off' }, ...errorResponses(400, 401, 403, 409, 429, 503) }
    })
  }, async (request, reply) => {
    await mfa.disable(request.auth!.claims.sub, sessionMetadata(request))
    return reply.code(204).send()
  })

  app.post('/mfa/recovery-codes', {
    onRequest: authenticate,
    preHandler: recent,
    config: routeConfig,
    schema: routeSchema({
      summary: 'New recovery codes in place of the old ones, shown once; needs a second factor proved within 5 minutes',
      tags: ['mfa'],
      response: { 200: recoveryCodesResponse, ...errorResponses(400, 401, 403, 409, 429, 503) }
    })
  }, async (request, reply) => {
    const codes = await mfa.regenerateRecoveryCodes(request.auth!.claims.sub, sessionMetadata(request))
    noStore(reply)
    return codes
  })
}

/** POST /mfa/verify: the login's second step, for the mfa_token of POST /login. */
async function verifyRoute (app: FastifyInstance, context: RoutesContext, mfa: Mfa): Promise<void> {
  app.post<{ Body: VerifyBody }>('/mfa/verify', {
    config: { ...context.routeConfig, public: true },
    schema: routeSchema({
      summary: 'Log in with the mfa_token of POST /login and a TOTP code, a recovery code or a passkey',
      tags: ['mfa'],
      body: mfaVerifyBody,
      response: { 200: tokenPair, ...errorResponses(400, 401, 429, 503) }
    })
  }, async (request, reply) => {
    const { mfa_token: mfaToken, code, recovery_code: recoveryCode, passkey } = request.body
    // The schema lets one of the three through.
    const proof = code !== undefined ? { code } : passkey !== undefined ? { passkey } : { recoveryCode: recoveryCode! }
    const csrf = csrfBinding(context)
    const pair = await mfa.secondStep.verify(mfaToken, proof, sessionMetadata(request), { csrfHash: csrf.hash })
    return sendTokens(context, reply, pair, csrf.token)
  })
}

/** POST /mfa/passkey/options: the request options of the mfa_token's user, for POST /mfa/verify with a passkey. */
async function passkeyOptionsRoute (app: FastifyInstance, context: RoutesContext, mfa: Mfa): Promise<void> {
  if (context.passkeys === null) return
  app.post<{ Body: { mfa_token: string } }>('/mfa/passkey/options', {
    config: { ...context.routeConfig, public: true },
    schema: routeSchema({
      summary: 'The passkey request options of the mfa_token of POST /login (the token stays for POST /mfa/verify)',
      tags: ['mfa', 'passkeys'],
      body: mfaPasskeyOptionsBody,
      response: { 200: requestOptions, ...errorResponses(400, 401, 429, 503) }
    })
  }, async (request, reply) => {
    noStore(reply)
    return await mfa.secondStep.passkeyOptions(request.body.mfa_token)
  })
}

export async function mfaRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  if (context.mfa === null) return
  await enrolmentRoutes(app, context, context.mfa)
  await verifyRoute(app, context, context.mfa)
  await passkeyOptionsRoute(app, context, context.mfa)
  await managementRoutes(app, context, context.mfa)
}
