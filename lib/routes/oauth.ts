import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { EmailNotVerifiedError, OAuthCodeInvalidError, OAuthStateError } from '../errors.js'
import type { AccountUser } from '../federation/accounts.js'
import { familyOf } from '../tokens/pairs.js'
import type { IssuableUser, MfaChallenge, SessionMetadata, TokenPair } from '../types.js'
import { csrfBinding, noStore, sendTokens, sessionMetadata, type RoutesContext } from './context.js'
import { createFederation, failing, landingOf, beginAttempt, providerOf, type Federation } from './federation.js'
import { callbackSchema, exchangeSchema, signInSchema } from './oauth-schemas.js'

/**
 * The `amr` of a session a provider's sign-in began. RFC 8176 names no value for it; `fed` is the one Microsoft
 * Entra ID documents ("a federated identity assertion was used"). The provider's own `amr` is not copied: its
 * methods were checked by the provider, under its rules, not by this server.
 */
export const FEDERATED_AMR = 'fed'

/**
 * routes.emailVerification.required: a user whose address is not verified (the provider did not say it verified it)
 * signs in as a password user logs in, not before they verify it; a new message goes out (403).
 */
async function requireVerifiedEmail (context: RoutesContext, user: AccountUser): Promise<void> {
  if (context.routes.emailVerification?.required !== true || user.emailVerified === true) return
  await context.emailVerification.request(user.id, user)
  throw new EmailNotVerifiedError()
}

interface CallbackQuery { state?: string, code?: string, error?: string }

/**
 * The callback: the attempt of its state, this browser's (its cookie); the provider's answer checked; then the
 * user of the sign-in (or the link of a link flow) and the landing URL, with a one-time code for a sign-in.
 */
async function callback (
  context: RoutesContext, federation: Federation,
  request: FastifyRequest<{ Params: { provider: string }, Querystring: CallbackQuery }>, reply: FastifyReply
): Promise<string> {
  const provider = providerOf(federation, request.params.provider)
  // Spent whatever happens next: an attempt is one callback.
  reply.clearCookie(federation.cookie.name, { path: '/', secure: federation.cookie.secure, sameSite: 'lax' })
  const attempt = await federation.attempts.take(request.query.state, request.cookies[federation.cookie.name])
  if (attempt.provider !== provider.name) throw new OAuthStateError('The sign-in attempt is of another provider')
  // The URL as the provider sent the browser to it: the configured origin, never the Host header.
  const query = request.url.slice(request.url.indexOf('?'))
  const profile = await federation.providers.profile(provider, new URL(`${federation.callbackOf(provider)}${query}`),
    { state: request.query.state!, verifier: attempt.verifier, nonce: attempt.nonce })
  const metadata = sessionMetadata(request)
  const landing = new URL(attempt.landing)
  if (attempt.linkUserId !== undefined) {
    await federation.accounts.link(attempt.linkUserId, provider, profile)
    context.emit('oauth.link', { userId: attempt.linkUserId, provider: provider.name, ...metadata })
    landing.searchParams.set('linked', provider.name)
    return landing.href
  }
  const { user, arrival } = await federation.accounts.signIn(provider, profile)
  const userId = String(user.id)
  if (arrival === 'created') context.emit('register', { userId, provider: provider.name, ...metadata })
  await requireVerifiedEmail(context, user)
  if (arrival === 'linked') {
    context.emit('oauth.link', { userId, provider: provider.name, reason: 'verified_email', ...metadata })
  }
  const authTime = Math.floor(Date.now() / 1000)
  const code = await federation.attempts.issueCode({ userId, provider: provider.name, authTime })
  landing.searchParams.set('code', code)
  return landing.href
}

/**
 * A code spent for the session it stands for: `amr` ['fed'], `auth_time` the provider's sign-in, `idp` the provider.
 * With the `mfa` option, a user with a second factor gets its challenge instead (unless the provider opts out with
 * `mfa: false`): POST /mfa/verify then issues the pair, `amr` ['fed', 'otp'].
 */
async function exchange (
  context: RoutesContext, federation: Federation, code: unknown, metadata: SessionMetadata, csrfHash: string | undefined
): Promise<TokenPair | MfaChallenge> {
  const signedIn = await federation.attempts.redeem(code)
  const user = await context.config.users.findById!(signedIn.userId) as IssuableUser | null | undefined
  // Deleted or disabled since the callback.
  if (user == null) throw new OAuthCodeInvalidError()
  const claims = { idp: signedIn.provider }
  // A code of a provider no longer configured (an instance of another set-up) is refused here.
  const second = providerOf(federation, signedIn.provider).mfa ? context.mfa : null
  const challenge = await second?.secondStep.begin(user, metadata, { amr: [FEDERATED_AMR], claims })
  if (challenge != null) return challenge
  const mfaSetup = await second?.needsSetup(user)
  const pair = await context.sessions.issue(user, { metadata, claims },
    { csrfHash, mfaSetup, proofs: { amr: [FEDERATED_AMR], authTime: signedIn.authTime } })
  const { userId, provider } = signedIn
  context.emit('oauth.login', { userId, familyId: familyOf(pair), provider, ...metadata })
  return pair
}

/** GET /oauth/:provider, its callback, and POST /oauth/exchange: a sign-in with a provider, ending in a pair. */
export async function oauthRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const { oauth } = context.config
  if (oauth === null) return
  const federation = createFederation(context, oauth)
  const config = { ...context.routeConfig, public: true }

  app.get<{ Params: { provider: string }, Querystring: { redirect_to?: string } }>('/oauth/:provider', {
    config, schema: signInSchema
  }, async (request, reply) => failing(context, request, request.params.provider, async () => {
    const provider = providerOf(federation, request.params.provider)
    const url = await beginAttempt(federation, reply, provider, landingOf(oauth, request.query.redirect_to))
    return reply.redirect(url, 302)
  }))

  app.get<{ Params: { provider: string }, Querystring: CallbackQuery }>('/oauth/:provider/callback', {
    config, schema: callbackSchema
  }, async (request, reply) => failing(context, request, request.params.provider, async () => {
    const landing = await callback(context, federation, request, reply)
    noStore(reply)
    return reply.redirect(landing, 302)
  }))

  app.post<{ Body: { code: string } }>('/oauth/exchange', {
    config, schema: exchangeSchema
  }, async (request, reply) => failing(context, request, undefined, async () => {
    const csrf = csrfBinding(context)
    const result = await exchange(context, federation, request.body.code, sessionMetadata(request), csrf.hash)
    if ('mfaToken' in result) {
      noStore(reply)
      return { mfa_required: true, mfa_token: result.mfaToken, methods: result.methods }
    }
    return sendTokens(context, reply, result, csrf.token)
  }))
}
