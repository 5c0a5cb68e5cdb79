import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ResolvedOptions } from '../config/options.js'
import {
  InvalidRequestError, InvalidTokenError, MfaSetupRequiredError, TokenRevokedError, UserNotFoundError
} from '../errors.js'
import { MFA_SETUP_CLAIM } from '../tokens/issue-options.js'
import type { ForeignRoute, ForeignToken, ForeignTokens } from '../tokens/foreign.js'
import type { Jwt } from '../tokens/jwt.js'
import type { Revocation } from '../tokens/revocation.js'
import type { AccessTokenClaims, AuthenticateHook, AuthUser } from '../types.js'
import type { UserLookup } from '../users/user-lookup.js'
import { checkBearerSyntax, readBearerToken } from './bearer.js'
import { challengeReply } from './challenge.js'
import { checkCsrf } from './cookies.js'

interface AuthenticateDeps {
  config: ResolvedOptions
  jwt: Jwt
  revocation: Revocation
  users: UserLookup
  /** Tokens of trusted issuers and legacy tokens; null when neither is configured. */
  foreign: ForeignTokens | null
}

/** Thrown on a verify-cache miss by a token that is not the plugin's own: it leaves the own checks at once. */
class Diversion {
  constructor (readonly token: string, readonly route: ForeignRoute) {}
}

/**
 * The `authenticate` hook, as a pipeline: token (header or cookie) -> verify
 * (verify cache, or syntax, signature and claims) -> revocation (the store's
 * local copy, or the store) -> user (cache, or findById). When every step
 * answers locally nothing is awaited. Auth failures leave with their RFC 6750
 * challenge; errors of the app's own findById pass through untouched.
 */
export function createAuthenticate ({ config, jwt, revocation, users, foreign }: AuthenticateDeps): AuthenticateHook {
  const { realm, maxTokenLength } = config
  const accessCookie = config.cookies?.accessToken === true ? config.cookies.names.access : undefined

  // With cookie transport: the cookie, or the header, never both (RFC 6750 section 2). Undefined: no cookie.
  function readCookieToken (request: FastifyRequest): string | undefined {
    const cookie = request.cookies[accessCookie!]
    if (cookie === undefined || cookie === '') return undefined
    if (request.headers.authorization !== undefined) {
      throw new InvalidRequestError('Send the access token in the Authorization header or in the cookie, not both')
    }
    if (cookie.length > maxTokenLength) throw new InvalidRequestError('The access token cookie is too long')
    return cookie
  }

  // Runs on verify-cache misses of bearer tokens only (the cookie carries the plugin's own tokens): with other
  // issuers configured it also asks, cheaply, whose token it is. Without them it is the syntax scan alone.
  const checkBearer = foreign === null
    ? checkBearerSyntax
    : (token: string): void => {
        checkBearerSyntax(token)
        const route = foreign.route(token)
        if (route !== undefined) throw new Diversion(token, route)
      }

  const authenticateForeign = foreign === null
    ? undefined
    : createForeignAuthenticate(foreign, revocation, users, realm)

  return async function authenticate (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    // Already done for this request (protectByDefault, then the route's own hook).
    if (request.auth !== null) return
    let token: string
    let claims: AccessTokenClaims
    try {
      const cookie = accessCookie === undefined ? undefined : readCookieToken(request)
      token = cookie ?? readBearerToken(request, maxTokenLength)
      // The syntax scan runs on verify-cache misses only; a cookie is not a bearer header.
      claims = jwt.verifyAccess(token, cookie === undefined ? checkBearer : undefined)
      if (revocation.checkLocally(claims) ?? await revocation.check(claims)) throw new TokenRevokedError()
      // A cookie is sent by the browser on its own: state changes need the CSRF proof too.
      if (cookie !== undefined) checkCsrf(request, claims.csh)
      // mfa.required: until a factor is confirmed, the session reaches the routes marked for its setup only.
      if (claims[MFA_SETUP_CLAIM] === true && request.routeOptions.config.mfaSetup !== true) {
        throw new MfaSetupRequiredError()
      }
    } catch (error) {
      if (error instanceof Diversion) return await authenticateForeign!(request, reply, error.token, error.route)
      throw challengeReply(reply, error as Error, realm)
    }
    let user = claims as AuthUser
    if (users.enabled) {
      const loaded = users.load(claims.sub)
      const found = loaded instanceof Promise ? await loaded : loaded
      if (found === null) throw challengeReply(reply, new UserNotFoundError(), realm)
      user = found
    }
    request.user = user
    request.auth = { token, claims }
  }
}

/**
 * The rest of `authenticate` for a token of another issuer: verify (its own cache, or its issuer's keys) -> user
 * (`mapUser`, else findById, else the claims) -> revocation by user only (such a token has no family): a
 * revokeAll of its `sub`, or of the id of the user it maps to, made after it was issued.
 */
function createForeignAuthenticate (foreign: ForeignTokens, revocation: Revocation, users: UserLookup, realm: string) {
  async function userOf ({ claims, mapUser }: ForeignToken): Promise<AuthUser | null> {
    if (mapUser !== undefined) return await (mapUser as (claims: unknown) => unknown)(claims) as AuthUser ?? null
    // Without mapUser, a verified token has a sub.
    return users.enabled ? await users.load(claims.sub!) : claims as AuthUser
  }

  async function isRevoked ({ claims }: ForeignToken, user: AuthUser): Promise<boolean> {
    const id = (user as { id?: unknown }).id
    const subjects = new Set<string>()
    if (claims.sub !== undefined) subjects.add(claims.sub)
    if (typeof id === 'string' || typeof id === 'number') subjects.add(String(id))
    const { iat } = claims
    for (const subject of subjects) {
      if (revocation.checkUserLocally(subject, iat) ?? await revocation.checkUser(subject, iat)) return true
    }
    return false
  }

  return async function authenticateForeign (
    request: FastifyRequest, reply: FastifyReply, token: string, route: ForeignRoute
  ): Promise<void> {
    let verified: ForeignToken
    try {
      verified = await foreign.verify(route, token)
    } catch (error) {
      throw challengeReply(reply, error as Error, realm)
    }
    // Errors of the app's own mapUser or findById pass through untouched.
    const user = await userOf(verified)
    if (user === null) throw challengeReply(reply, new UserNotFoundError(), realm)
    try {
      if (await isRevoked(verified, user)) throw new TokenRevokedError()
    } catch (error) {
      throw challengeReply(reply, error as Error, realm)
    }
    request.user = user
    request.auth = { token, claims: verified.claims as AccessTokenClaims, issuer: verified.issuer }
  }
}

/**
 * For the plugin's own routes (logout, me, password change, email verification): they act on the plugin's login
 * sessions, so they need its own tokens. The same hook when no other issuer is configured.
 */
export function ownTokensOnly (authenticate: AuthenticateHook, realm: string, foreign: ForeignTokens | null) {
  if (foreign === null) return authenticate
  return async function authenticateOwnToken (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    await authenticate(request, reply)
    if (request.auth!.issuer !== undefined) {
      throw challengeReply(reply, new InvalidTokenError('This route needs a token issued by this service'), realm)
    }
  }
}
