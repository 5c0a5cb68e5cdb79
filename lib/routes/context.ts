import type { FastifyReply, FastifyRequest } from 'fastify'
import type { EmailVerification } from '../account/email.js'
import type { PasswordFlows } from '../account/passwords.js'
import type { Emit } from '../audit/events.js'
import type { Mfa } from '../factors/mfa.js'
import type { Passkeys } from '../factors/passkeys.js'
import { newCsrfToken, setTokenCookies } from '../request/cookies.js'
import type { Captchas } from './captchas.js'
import type { CredentialCheck } from '../users/credentials.js'
import type { Lockout } from './lockout.js'
import type { ResolvedOptions } from '../config/options.js'
import type { ResolvedStore } from '../stores/resolve.js'
import type { ReauthenticationVerifiers } from '../tokens/authentication.js'
import type { Revocation } from '../tokens/revocation.js'
import type { LoginSessions } from '../tokens/sessions.js'
import type { AuthenticateHook, JwtAuthApi, SessionMetadata, TokenPair } from '../types.js'
import type { ResolvedRoutes } from '../config/routes.js'
import type { UserLookup } from '../users/user-lookup.js'

/** What the route modules are given by the plugin entry. */
export interface RoutesContext {
  config: ResolvedOptions
  routes: ResolvedRoutes
  api: JwtAuthApi
  authenticate: AuthenticateHook
  store: ResolvedStore
  sessions: LoginSessions
  revocation: Revocation
  captchas: Captchas | null
  lockout: Lockout | null
  credentials: CredentialCheck
  passwordFlows: PasswordFlows
  emailVerification: EmailVerification
  users: UserLookup
  /** The proofs POST /reauthenticate accepts besides the password (a second factor registers its code verifier). */
  verifiers: ReauthenticationVerifiers
  /** Second factors; null without the mfa option. */
  mfa: Mfa | null
  /** Passkeys; null without the passkeys option. */
  passkeys: Passkeys | null
  emit: Emit
  /** Config of every auth route: what the Swagger integration reads. */
  routeConfig: Record<string, unknown>
}

/** RFC 6749 section 5.1: token responses are never cached. */
export function noStore (reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
}

/** The OAuth 2 style body of a token pair. */
export function tokenResponse (pair: TokenPair) {
  return {
    access_token: pair.accessToken,
    refresh_token: pair.refreshToken,
    token_type: pair.tokenType,
    expires_in: pair.expiresIn
  }
}

/** What a login session keeps of the request that made or refreshed it. */
export function sessionMetadata (request: FastifyRequest): SessionMetadata {
  return { ip: request.ip, userAgent: request.headers['user-agent'] }
}

/** A cookie session's CSRF token and the hash its tokens carry; none without cookies. */
export function csrfBinding (context: RoutesContext): { hash: string | undefined, token: string | undefined } {
  if (context.config.cookies === null) return { hash: undefined, token: undefined }
  return newCsrfToken()
}

/**
 * The answer of a route that issues tokens. Without cookies: the tokens in the
 * body. With cookies: the refresh token (and the access token, when asked for)
 * only in HttpOnly cookies, and the CSRF token in the body and its own cookie.
 */
export function sendTokens (
  context: RoutesContext,
  reply: FastifyReply,
  pair: TokenPair,
  csrfToken: string | undefined
) {
  noStore(reply)
  const { cookies } = context.config
  if (cookies === null || csrfToken === undefined) return tokenResponse(pair)
  setTokenCookies(reply, cookies, { ...pair, csrfToken, accessTtl: pair.expiresIn, refreshTtl: pair.refreshExpiresIn })
  return {
    ...(cookies.accessToken ? {} : { access_token: pair.accessToken }),
    token_type: pair.tokenType,
    expires_in: pair.expiresIn,
    csrf_token: csrfToken
  }
}
