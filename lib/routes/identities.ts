import type { FastifyInstance } from 'fastify'
import { OAuthLastLoginError, OAuthNotLinkedError } from '../errors.js'
import { sessionMetadata, type RoutesContext } from './context.js'
import { hasPassword } from './current-password.js'
import { beginAttempt, createFederation, failing, landingOf, providerOf } from './federation.js'
import { identitiesSchema, linkSchema, unlinkSchema } from './oauth-schemas.js'

/** POST /oauth/:provider/link, GET /identities, DELETE /identities/:provider: a logged-in user's identities. */
export async function identityRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const { oauth } = context.config
  if (oauth === null) return
  const federation = createFederation(context, oauth)
  const { authenticate, routeConfig } = context
  const config = routeConfig

  app.post<{ Params: { provider: string }, Body: { redirect_to?: string } | undefined }>('/oauth/:provider/link', {
    onRequest: authenticate, config, schema: linkSchema
  }, async (request, reply) => failing(context, request, request.params.provider, async () => {
    const provider = providerOf(federation, request.params.provider)
    const landing = landingOf(oauth, request.body?.redirect_to)
    return { url: await beginAttempt(federation, reply, provider, landing, String(request.auth!.claims.sub)) }
  }))

  app.get('/identities', { onRequest: authenticate, config, schema: identitiesSchema }, async (request) => {
    const identities = await federation.accounts.list(String(request.auth!.claims.sub))
    // Only what the list shows: an adapter's own fields (the subject) stay out.
    const shown = identities.map(({ provider, email, emailVerified, linkedAt }) =>
      ({ provider, email, emailVerified, linkedAt }))
    return { identities: shown }
  })

  app.delete<{ Params: { provider: string } }>('/identities/:provider', {
    onRequest: authenticate, config, schema: unlinkSchema
  }, async (request, reply) => {
    const userId = String(request.auth!.claims.sub)
    const provider = request.params.provider
    const identities = await federation.accounts.list(userId)
    if (!identities.some((identity) => identity.provider === provider)) throw new OAuthNotLinkedError()
    // Another identity, a passkey, or a password: never the last way to log in.
    const another = identities.some((identity) => identity.provider !== provider) ||
      (context.passkeys !== null && (await context.passkeys.list(userId)).length > 0)
    if (!another && !await hasPassword(context, request.user as Record<string, unknown>)) {
      throw new OAuthLastLoginError()
    }
    // Of two DELETEs at once, both answer 204: the identity is gone.
    await federation.accounts.unlink(userId, provider)
    context.emit('oauth.unlink', { userId, provider, ...sessionMetadata(request) })
    return reply.code(204).send()
  })
}
