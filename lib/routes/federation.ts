import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ResolvedOAuth, ResolvedProvider } from '../config/oauth.js'
import { OAuthRedirectError, OAuthUnknownProviderError } from '../errors.js'
import { createAccounts, type Accounts } from '../federation/accounts.js'
import { ATTEMPT_TTL, createAttempts, random, type Attempts } from '../federation/attempts.js'
import { createProviders, type Providers } from '../federation/providers.js'
import { noStore, sessionMetadata, type RoutesContext } from './context.js'

// A landing URL longer than this is no one's: refused before it is parsed.
const MAX_REDIRECT_LENGTH = 2048

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
  const verificationRequired = context.routes.emailVerification?.required === true
  return {
    oauth,
    providers: createProviders(oauth),
    attempts: createAttempts(context.store.challenges),
    // A user who must verify their address keeps the one the provider did not verify, to verify it.
    accounts: createAccounts(context.config.users, { keepUnverifiedEmail: verificationRequired }),
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
  const { verifier, nonce } = request
  const value = await attempts.begin(state, { provider: provider.name, verifier, nonce, landing, linkUserId })
  const options = { path: '/', httpOnly: true, secure: cookie.secure, sameSite: 'lax', maxAge: ATTEMPT_TTL } as const
  reply.setCookie(cookie.name, value, options)
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
    FST_JWT_AUTH_EMAIL_TAKEN: 'email_taken',
    FST_JWT_AUTH_EMAIL_NOT_VERIFIED: 'email_not_verified'
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
