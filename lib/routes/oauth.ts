import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createDecoder } from 'fast-jwt'
import type { ResolvedOAuth, ResolvedProvider } from '../config/oauth.js'
import {
  OAuthCodeInvalidError, OAuthLastLoginError, OAuthNotLinkedError, OAuthRedirectError, OAuthStateError, OAuthUnknownProviderError
} from '../errors.js'
import { createAccounts, type Accounts } from '../federation/accounts.js'
import { ATTEMPT_TTL, createAttempts, random, type Attempts } from '../federation/attempts.js'
import { createProviders, type Providers } from '../federation/providers.js'
import type { MfaChallenge, SessionMetadata, TokenPair } from '../types.js'
import { csrfBinding, noStore, sendTokens, sessionMetadata, type RoutesContext } from './context.js'
import { hasPassword } from './current-password.js'
import { errorResponses, loginResponse, routeSchema } from './schemas.js'

/**
 * The `amr` of a session a provider's sign-in began. RFC 8176 names no value for it; `fed` is the one Microsoft
 * Entra ID documents ("a federated identity assertion was used"). The provider's own `amr` is not copied: its
 * methods were checked by the provider, under its rules, not by this server.
 */
export const FEDERATED_AMR = 'fed'
// A landing URL longer than this is no one's: refused before it is parsed.
const MAX_REDIRECT_LENGTH = 2048

const decode = createDecoder()
const familyOf = (pair: TokenPair): string => (decode(pair.refreshToken) as { fam: string }).fam

/** What the oauth routes share: the option, the providers' clients, the attempts, the accounts. */
export interface Federation {
  oauth: ResolvedOAuth
  providers: Providers
  attempts: Attempts
  accounts: Accounts
  /** The attempt cookie: `__Host-` and Secure when baseUrl is https. */
  cookie: { name: string, secure: boolean }
  callbackOf (provider: ResolvedProvider): string
}

// One per app: the sign-in routes and the identity routes share the providers' clients (one discovery each).
const federations = new WeakMap<RoutesContext, Federation>()

export function createFederation (context: RoutesContext, oauth: ResolvedOAuth): Federation {
  let federation = federations.get(context)
  if (federation === undefined) federations.set(context, federation = makeFederation(context, oauth))
  return federation
}

function makeFederation (context: RoutesContext, oauth: ResolvedOAuth): Federation {
  const secure = oauth.baseUrl.startsWith('https:')
  return {
    oauth,
    providers: createProviders(oauth),
    attempts: createAttempts(context.store.challenges),
    accounts: createAccounts(context.config.users),
    cookie: { name: secure ? '__Host-oauth_attempt' : 'oauth_attempt', secure },
    callbackOf: (provider) => `${oauth.baseUrl}${context.routes.prefix}/oauth/${provider.name}/callback`
  }
}

export function providerOf (federation: Federation, name: string): ResolvedProvider {
  const provider = federation.oauth.providers.get(name)
  if (provider === undefined) throw new OAuthUnknownProviderError()
  return provider
}

/** The landing URL a sign-in asked for: successRedirect, or an exact allowed URL, or a URL of an allowed origin. */
export function landingOf (oauth: ResolvedOAuth, redirectTo: unknown): string {
  if (redirectTo === undefined) return oauth.successRedirect.href
  if (typeof redirectTo !== 'string' || redirectTo.length > MAX_REDIRECT_LENGTH || !URL.canParse(redirectTo)) {
    throw new OAuthRedirectError()
  }
  const url = new URL(redirectTo)
  const allowed = url.username === '' && url.password === '' && /^https?:$/.test(url.protocol) &&
    (oauth.allowedUrls.has(url.href) || oauth.allowedOrigins.has(url.origin) || url.href === oauth.successRedirect.href)
  if (!allowed) throw new OAuthRedirectError()
  return url.href
}

/** Begins an attempt: the attempt cookie on the reply, and the provider's URL to send the browser to. */
export async function beginAttempt (
  federation: Federation, reply: FastifyReply, provider: ResolvedProvider, landing: string, linkUserId?: string
): Promise<string> {
  const { providers, attempts, cookie } = federation
  const state = random()
  const request = await providers.authorize(provider, federation.callbackOf(provider), state)
  const value = await attempts.begin(state, { provider: provider.name, verifier: request.verifier, nonce: request.nonce, landing, linkUserId })
  reply.setCookie(cookie.name, value, { path: '/', httpOnly: true, secure: cookie.secure, sameSite: 'lax', maxAge: ATTEMPT_TTL })
  noStore(reply)
  return request.url.href
}

/** Why an oauth route failed, for the oauth.failure event: the error's own reason, else what its code says. */
export function reasonOf (error: unknown): string {
  const { reason, code } = error as { reason?: unknown, code?: unknown }
  if (typeof reason === 'string') return reason
  const known: Record<string, string> = {
    FST_JWT_AUTH_OAUTH_STATE: 'state',
    FST_JWT_AUTH_OAUTH_REDIRECT: 'redirect',
    FST_JWT_AUTH_OAUTH_CODE_INVALID: 'code',
    FST_JWT_AUTH_OAUTH_UNKNOWN_PROVIDER: 'unknown_provider',
    FST_JWT_AUTH_OAUTH_PROVIDER_UNAVAILABLE: 'provider_unavailable',
    FST_JWT_AUTH_OAUTH_PROVIDER_ERROR: 'provider_unavailable',
    FST_JWT_AUTH_OAUTH_NO_ACCOUNT: 'no_account',
    FST_JWT_AUTH_OAUTH_IDENTITY_TAKEN: 'identity_taken',
    FST_JWT_AUTH_EMAIL_TAKEN: 'email_taken'
  }
  return known[code as string] ?? 'error'
}

/** Runs a step of a flow; a failure is an oauth.failure event (its reason, never a code or token), then thrown. */
export async function failing<T> (
  context: RoutesContext, request: FastifyRequest, provider: string | undefined, step: () => Promise<T>
): Promise<T> {
  try {
    return await step()
  } catch (error) {
    context.emit('oauth.failure', { reason: reasonOf(error), provider, ...sessionMetadata(request) })
    throw error
  }
}

interface CallbackQuery { state?: string, code?: string, error?: string }

/**
 * The callback: the attempt of its state, this browser's (its cookie); the provider's answer checked; then the
 * user of the sign-in (or the link of a link flow) and the landing URL, with a one-time code for a sign-in.
 */
async function callback (
  context: RoutesContext, federation: Federation, request: FastifyRequest<{ Params: { provider: string }, Querystring: CallbackQuery }>,
  reply: FastifyReply
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
  if (arrival === 'linked') context.emit('oauth.link', { userId, provider: provider.name, reason: 'verified_email', ...metadata })
  const code = await federation.attempts.issueCode({ userId, provider: provider.name, authTime: Math.floor(Date.now() / 1000) })
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
  const user = await context.config.users.findById!(signedIn.userId) as { id: string | number, roles?: string[] } | null | undefined
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
  context.emit('oauth.login', { userId: signedIn.userId, familyId: familyOf(pair), provider: signedIn.provider, ...metadata })
  return pair
}

const providerParams = {
  type: 'object',
  required: ['provider'],
  properties: { provider: { type: 'string', maxLength: 64, description: 'A provider of the oauth option' } }
} as const

export async function oauthRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const { oauth } = context.config
  if (oauth === null) return
  const federation = createFederation(context, oauth)
  const config = { ...context.routeConfig, public: true }

  app.get<{ Params: { provider: string }, Querystring: { redirect_to?: string } }>('/oauth/:provider', {
    config,
    schema: routeSchema({
      summary: 'Sign in with a provider: a redirect to it (state, PKCE S256, nonce), bound to this browser',
      tags: ['oauth'],
      params: providerParams,
      querystring: {
        type: 'object',
        properties: { redirect_to: { type: 'string', description: 'A landing URL of oauth.allowedRedirects' } }
      },
      response: { 302: { type: 'null', description: 'To the provider' }, ...errorResponses(400, 404, 429, 502, 503) }
    })
  }, async (request, reply) => failing(context, request, request.params.provider, async () => {
    const provider = providerOf(federation, request.params.provider)
    const url = await beginAttempt(federation, reply, provider, landingOf(oauth, request.query.redirect_to))
    return reply.redirect(url, 302)
  }))

  app.get<{ Params: { provider: string }, Querystring: CallbackQuery }>('/oauth/:provider/callback', {
    config,
    schema: routeSchema({
      summary: 'Where the provider sends the browser back: a redirect to the landing URL with a one-time code',
      tags: ['oauth'],
      params: providerParams,
      querystring: {
        type: 'object',
        properties: { state: { type: 'string' }, code: { type: 'string' }, error: { type: 'string' } }
      },
      response: {
        302: { type: 'null', description: 'To the landing URL, with ?code= (a sign-in) or ?linked= (a link)' },
        ...errorResponses(400, 401, 403, 404, 409, 429, 502, 503)
      }
    })
  }, async (request, reply) => failing(context, request, request.params.provider, async () => {
    const landing = await callback(context, federation, request, reply)
    noStore(reply)
    return reply.redirect(landing, 302)
  }))

  app.post<{ Body: { code: string } }>('/oauth/exchange', {
    config,
    schema: routeSchema({
      summary: 'Spend the one-time code of a provider sign-in for a token pair (with cookies on, the cookies)',
      tags: ['oauth'],
      body: {
        type: 'object',
        required: ['code'],
        properties: { code: { type: 'string', minLength: 1, maxLength: 128, description: 'From the landing URL' } }
      },
      response: { 200: loginResponse, ...errorResponses(400, 429, 503) }
    })
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

const identityList = {
  type: 'object',
  properties: {
    identities: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          provider: { type: 'string' }, email: { type: 'string', nullable: true }, emailVerified: { type: 'boolean' }, linkedAt: { type: 'string' }
        }
      }
    }
  }
} as const

/** POST /oauth/:provider/link, GET /identities, DELETE /identities/:provider: a logged-in user's identities. */
export async function identityRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const { oauth } = context.config
  if (oauth === null) return
  const federation = createFederation(context, oauth)
  const { authenticate, routeConfig } = context
  const security = { tags: ['oauth'] }

  app.post<{ Params: { provider: string }, Body: { redirect_to?: string } | undefined }>('/oauth/:provider/link', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({
      summary: 'Begin linking a provider to the logged-in user: the URL to send the browser to',
      ...security,
      params: providerParams,
      body: { content: { 'application/json': { schema: { type: 'object', properties: { redirect_to: { type: 'string' } } } } } },
      response: { 200: { type: 'object', properties: { url: { type: 'string' } } }, ...errorResponses(400, 401, 404, 429, 502, 503) }
    })
  }, async (request, reply) => failing(context, request, request.params.provider, async () => {
    const provider = providerOf(federation, request.params.provider)
    const landing = landingOf(oauth, request.body?.redirect_to)
    return { url: await beginAttempt(federation, reply, provider, landing, String(request.auth!.claims.sub)) }
  }))

  app.get('/identities', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({ summary: 'The providers linked to the logged-in user', ...security, response: { 200: identityList, ...errorResponses(401, 429, 503) } })
  }, async (request) => {
    const identities = await federation.accounts.list(String(request.auth!.claims.sub))
    return { identities: identities.map(({ provider, email, emailVerified, linkedAt }) => ({ provider, email, emailVerified, linkedAt })) }
  })

  app.delete<{ Params: { provider: string } }>('/identities/:provider', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({
      summary: 'Unlink a provider from the logged-in user (never the last way to log in)',
      ...security,
      params: providerParams,
      response: { 204: { type: 'null', description: 'Unlinked' }, ...errorResponses(401, 404, 409, 429, 503) }
    })
  }, async (request, reply) => {
    const userId = String(request.auth!.claims.sub)
    const provider = request.params.provider
    const identities = await federation.accounts.list(userId)
    if (!identities.some((identity) => identity.provider === provider)) throw new OAuthNotLinkedError()
    // Another identity, a passkey, or a password: never the last way to log in.
    const another = identities.some((identity) => identity.provider !== provider) ||
      (context.passkeys !== null && (await context.passkeys.list(userId)).length > 0)
    if (!another && !await hasPassword(context, request.user as Record<string, unknown>)) throw new OAuthLastLoginError()
    // Of two DELETEs at once, both answer 204: the identity is gone.
    await federation.accounts.unlink(userId, provider)
    context.emit('oauth.unlink', { userId, provider, ...sessionMetadata(request) })
    return reply.code(204).send()
  })
}
