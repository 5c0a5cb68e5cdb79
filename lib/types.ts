import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AuthorizePredicate, AuthorizeRequirement } from './request/authorize.js'
import type { AuthStore, KeyValueStore } from './stores/types.js'

/**
 * Augment this interface to type `request.user` and the `users` callbacks:
 *
 *   declare module 'fastify-jwt-auth' {
 *     interface JwtAuthTypes { user: { id: number, name: string, roles: string[] } }
 *   }
 */
export interface JwtAuthTypes {}

/** The user when JwtAuthTypes is not augmented: a user record, or the claims when there is no findById. */
export interface DefaultAuthUser {
  id?: string | number
  sub?: string
  roles?: string[]
  [key: string]: unknown
}

export type AuthUser = JwtAuthTypes extends { user: infer User } ? User : DefaultAuthUser

/**
 * What users.findById may return: the augmented user type, or any object when
 * JwtAuthTypes is not augmented (not a thenable: a promise is an object too).
 */
export type FoundUser = JwtAuthTypes extends { user: infer User } ? User : object & { then?: never }

/** What `issue` needs of a user: an id (becomes `sub`) and, optionally, roles. */
export interface IssuableUser {
  id: string | number
  roles?: readonly string[]
}

/** Claims of a verified access token. */
export interface AccessTokenClaims {
  /** The user id, `String(user.id)`. */
  sub: string
  /** Unique token id. */
  jti: string
  /** Refresh family (login session) the token belongs to. */
  fam: string
  iat: number
  exp: number
  nbf?: number
  iss?: string
  aud?: string | string[]
  roles?: string[]
  /** The user's revocation epoch when the token was issued (see revokeAll). */
  ep?: string
  /** Hash of the session's CSRF token, on tokens of cookie logins. */
  csh?: string
  /**
   * How the user authenticated in this session, as RFC 8176 methods: `['pwd']` after a password login, `['pwd',
   * 'otp']` with a second factor. Kept by refresh; a reauthentication sets its own proofs'. Absent from tokens of
   * earlier versions (and of `issue` without `amr`); another issuer's tokens carry their own.
   */
  amr?: string[]
  /**
   * When the user last authenticated in this session, in seconds since the epoch (OIDC Core 2): the login, or the
   * last reauthentication; a refresh never moves it. What `authorize({ maxAge })` reads.
   */
  auth_time?: number
  /** The session's authentication level, when the `acr` option names levels (or another issuer's own). */
  acr?: string
  [claim: string]: unknown
}

/** What `authenticate` puts on `request.auth`. */
export interface AuthContext {
  token: string
  claims: AccessTokenClaims
  /**
   * Who issued the token when it is not the plugin's own: a trusted issuer's `issuer`, or 'legacy'. Its claims
   * are then that issuer's (no `fam`, `jti` or `ep` of the plugin's).
   */
  issuer?: string
}

export interface TokenPair {
  accessToken: string
  refreshToken: string
  tokenType: 'Bearer'
  /** Seconds until the access token expires. */
  expiresIn: number
  /** Seconds until the refresh token expires. */
  refreshExpiresIn: number
}

/** Request details kept with a login session (for `sessions()`). */
export interface SessionMetadata {
  ip?: string
  userAgent?: string
}

/** A live login session (refresh family) of a user. */
export interface SessionInfo {
  familyId: string
  /** ISO 8601 times. */
  createdAt: string
  lastRefreshedAt: string
  expiresAt: string
  ip?: string
  userAgent?: string
}

export interface IssueOptions {
  /** Extra claims for the access token; registered claims (sub, jti, exp, ...) cannot be set. */
  claims?: Record<string, unknown>
  /** Kept with the session, for `sessions()`. */
  metadata?: SessionMetadata
  /** OAuth scopes granted to this session: the access token's `scope` claim (kept across refreshes). */
  scope?: string | readonly string[]
  /**
   * How your own login checked the user, as RFC 8176 methods (`['pwd']`, `['pwd', 'otp']`): the `amr` claim, and the
   * `acr` the `acr` option gives them. Default none (see `authTime`).
   */
  amr?: readonly string[]
  /**
   * When the user authenticated (the `auth_time` claim); not in the future. Default now when `amr` is given; with
   * neither, the pair carries no `amr`, `auth_time` or `acr` and meets no step-up requirement.
   */
  authTime?: Date
}

export interface ChangePasswordOptions {
  /** A live session of the user (its family id) that goes on with a new token pair; every other session ends. */
  keepFamilyId?: string
  /** Kept with the session that goes on. */
  metadata?: SessionMetadata
}

export type AuthenticateHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

export interface PasswordHasher {
  /** argon2id hash (PHC string) of a password. Runs off the event loop. */
  hashPassword (plain: string): Promise<string>
  /** True when `plain` matches `hash`; false for a wrong password or a malformed hash. */
  verifyPassword (hash: string, plain: string): Promise<boolean>
  /** True when `hash` is not argon2id, or was made with weaker parameters than configured. */
  needsRehash (hash: string): boolean
}

/** A TOTP setup: what the user's authenticator app takes. */
export interface TotpSetup {
  /** The secret in base32 (for typing it in). Never log it. */
  secret: string
  /** The `otpauth://totp/...` URI. */
  uri: string
  /** The URI as a QR code: an SVG data URL. */
  qr: string
}

/** Which session a TOTP setup belongs to: the setup and its confirmation name the same one. */
export interface TotpSetupOptions {
  /** The session's family id (`request.auth.claims.fam`); none: the user's one setup outside sessions. */
  familyId?: string
  /** For the `mfa.enable` event. */
  metadata?: SessionMetadata
}

/** `app.jwtAuth.mfa`: second factors, for apps with routes of their own. Each rejects without the `mfa` option. */
export interface MfaApi {
  /**
   * Starts a TOTP setup (a new secret, in use once confirmed; a new setup of the same session replaces it). A user
   * whose TOTP is on gets `FST_JWT_AUTH_MFA_ALREADY_ENABLED` (409).
   */
  setupTotp (userId: string | number, options?: TotpSetupOptions): Promise<TotpSetup>
  /**
   * Turns TOTP on with a first code of the setup; resolves to the recovery codes, to show once. A wrong code is
   * `FST_JWT_AUTH_INVALID_MFA_CODE` (401, the setup stays), no setup `FST_JWT_AUTH_MFA_SETUP_NOT_FOUND` (400).
   */
  confirmTotp (userId: string | number, code: string, options?: TotpSetupOptions): Promise<{ recoveryCodes: string[] }>
  /** Turns TOTP off and forgets the recovery codes (`FST_JWT_AUTH_MFA_NOT_ENABLED`, 409, when it is off). */
  disable (userId: string | number, metadata?: SessionMetadata): Promise<void>
  /** New recovery codes in place of the old ones; resolves to them, to show once. */
  regenerateRecoveryCodes (userId: string | number, metadata?: SessionMetadata): Promise<{ recoveryCodes: string[] }>
  /**
   * For a login route of your own, after the right password: a user with TOTP on gets `{ mfaToken, methods }`
   * (answer them instead of tokens: the token works once, for 5 minutes), one without gets null (issue tokens).
   */
  begin (user: IssuableUser, metadata?: SessionMetadata): Promise<MfaChallenge | null>
  /**
   * The login's second step: spends the mfa_token with a TOTP `code`, a `recoveryCode` or a `passkey` (the answer to
   * POST /mfa/passkey/options, as @simplewebauthn/browser gives it), and resolves to the pair of a new session (`amr`
   * `['pwd', 'otp']`, or `['pwd', 'hwk']` and `user` when the authenticator verified the user). A wrong code is
   * `FST_JWT_AUTH_INVALID_MFA_CODE` (401, counted by the account's MFA lockout: 429 `FST_JWT_AUTH_ACCOUNT_LOCKED`
   * past it); a bad, spent or expired token `FST_JWT_AUTH_MFA_TOKEN_INVALID` (401).
   */
  verify (
    mfaToken: string,
    proof: { code: string } | { recoveryCode: string } | { passkey: unknown },
    metadata?: SessionMetadata
  ):
  Promise<TokenPair>
}

/** What a login with the right password gets for a user with TOTP on, instead of tokens. */
export interface MfaChallenge {
  mfaToken: string
  /**
   * The second factors this user may give: `totp`, `recovery_code` while some are left, `passkey` when the user has
   * one (with the passkeys option: POST /mfa/passkey/options, then POST /mfa/verify with `passkey`).
   */
  methods: Array<'totp' | 'recovery_code' | 'passkey'>
}

/** `app.jwtAuth` */
export interface JwtAuthApi extends PasswordHasher {
  /** Starts a login session: a new access and refresh token pair in a new family. */
  issue (user: IssuableUser, options?: IssueOptions): Promise<TokenPair>
  /** Spends a refresh token for a new pair; a spent token presented again revokes its family. */
  refresh (refreshToken: string, metadata?: SessionMetadata): Promise<TokenPair>
  /** Verifies an access token (signature, claims, type, revocation) and returns its claims. */
  verify (accessToken: string): Promise<AccessTokenClaims>
  /** Revokes an access or refresh token and every token of its family (the `logout` event carries `metadata`). */
  revoke (token: string, metadata?: SessionMetadata): Promise<void>
  /** Revokes every token issued to the user until now, and drops the user from every instance's cache. */
  revokeAll (userId: string | number): Promise<void>
  /** The user's live login sessions, newest use first. */
  sessions (userId: string | number): Promise<SessionInfo[]>
  /** Ends one login session of the user; false when the user has no such session. */
  revokeSession (userId: string | number, familyId: string): Promise<boolean>
  /**
   * Stores the new password's hash (after the password policy) and ends every session of the user, on every
   * instance. With `keepFamilyId` (a live session of the user), that session goes on: its new pair is returned.
   */
  changePassword (userId: string | number, newPassword: string,
    options: ChangePasswordOptions & { keepFamilyId: string }): Promise<TokenPair>
  changePassword (userId: string | number, newPassword: string, options?: ChangePasswordOptions):
  Promise<TokenPair | undefined>
  /**
   * Sends a one-time reset token to the user of `login` through `routes.passwordReset.send`; resolves the same
   * whether the user exists or not.
   */
  requestPasswordReset (login: string, metadata?: SessionMetadata): Promise<void>
  /**
   * Spends a reset token for a new password: every session of the user ends, on every instance. A used,
   * expired or unknown token throws `FST_JWT_AUTH_RESET_TOKEN_INVALID`.
   */
  resetPassword (token: string, newPassword: string, metadata?: SessionMetadata): Promise<void>
  /** Sends a one-time verification token through `routes.emailVerification.send` (none if already verified). */
  requestEmailVerification (userId: string | number): Promise<void>
  /** Spends a verification token: `users.markEmailVerified` runs for its user. */
  verifyEmail (token: string, metadata?: SessionMetadata): Promise<void>
  /** The JSON Web Key Set of the public keys (empty with an HMAC secret, which is never published). */
  jwks (): { keys: Array<Record<string, unknown>> }
  /**
   * Drops the user from the user cache of every instance sharing the store
   * (call it when you change or disable a user); resolves once published.
   */
  invalidateUser (userId: string | number): Promise<void>
  /** The store in use, as given (or the default memory store). */
  readonly store: AuthStore | KeyValueStore
  /** Second factors (the `mfa` option). */
  readonly mfa: MfaApi
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** With protectByDefault: this route needs no authentication. */
    public?: boolean
    /**
     * With `mfa.required`: the tokens of a user who must still set up a second factor reach this route too (the
     * plugin's MFA setup routes, `/me` and `/logout` have it). Default false: 403 `FST_JWT_AUTH_MFA_SETUP_REQUIRED`.
     */
    mfaSetup?: boolean
  }
  interface FastifyInstance {
    /** onRequest / preHandler hook: RFC 6750 bearer authentication. */
    authenticate: AuthenticateHook
    /** A hook that answers 403 unless the user holds one of `roles` (authenticating first if needed). */
    authorize (...roles: string[]): AuthenticateHook
    /**
     * A hook that answers 403 `insufficient_scope` unless the user meets every list given: any of its names,
     * or all of them with `all: true`. Permissions come from the `permissions` option and `user.permissions`;
     * scopes from the access token's `scope` claim. With `maxAge`, `amr` or `acr` (step-up, RFC 9470), 401
     * `insufficient_user_authentication` unless the session authenticated recently enough (`auth_time`), with those
     * methods (`amr`) or at that level (`acr`).
     */
    authorize (requirement: AuthorizeRequirement): AuthenticateHook
    /** A hook that answers 403 unless `predicate(request.user, request)` resolves to true. */
    authorize (predicate: AuthorizePredicate): AuthenticateHook
    jwtAuth: JwtAuthApi
  }
  interface FastifyRequest {
    /** The authenticated user (set by `authenticate`). */
    user: AuthUser
    /** The verified token and its claims (set by `authenticate`). */
    auth: AuthContext | null
  }
}
