import createError, { type FastifyErrorConstructor } from '@fastify/error'

/** The last constructor argument of every error: its underlying cause. */
export interface Cause { cause: unknown }

/** An error class with its code and status in its type. */
export type JwtAuthErrorConstructor<Code extends string, Status extends number, Args extends unknown[]> =
  FastifyErrorConstructor<{ code: Code, statusCode: Status }, Args>

function define<Code extends string, Status extends number, Args extends unknown[]> (
  code: Code, message: string, statusCode: Status, Base?: ErrorConstructor
): JwtAuthErrorConstructor<Code, Status, Args> {
  return createError<Code, Status, Args>(code, message, statusCode, Base)
}

// Every error the plugin raises. Codes carry the FST_JWT_AUTH_ prefix, as the
// @fastify/* plugins prefix theirs; the RFC 6750 meaning of each code lives in
// challenge.ts, next to the header it produces.

export const InvalidOptionError = define<'FST_JWT_AUTH_INVALID_OPTION', 500, [string, Cause?]>(
  'FST_JWT_AUTH_INVALID_OPTION', 'fastify-jwt-auth: %s', 500, TypeError)

// A store that could not reach its backend at register (a Redis store waits for its first connection).
export const StoreUnreachableError = define<'FST_JWT_AUTH_STORE_UNREACHABLE', 500, [string, Cause?]>(
  'FST_JWT_AUTH_STORE_UNREACHABLE', 'fastify-jwt-auth: %s', 500)

export const MissingTokenError = define<'FST_JWT_AUTH_NO_TOKEN', 401, [Cause?]>(
  'FST_JWT_AUTH_NO_TOKEN', 'Authorization header with a bearer token is required', 401)

export const InvalidRequestError = define<'FST_JWT_AUTH_INVALID_REQUEST', 400, [string, Cause?]>(
  'FST_JWT_AUTH_INVALID_REQUEST', '%s', 400)

export const InvalidTokenError = define<'FST_JWT_AUTH_INVALID_TOKEN', 401, [string, Cause?]>(
  'FST_JWT_AUTH_INVALID_TOKEN', '%s', 401)

export const TokenExpiredError = define<'FST_JWT_AUTH_TOKEN_EXPIRED', 401, [Cause?]>(
  'FST_JWT_AUTH_TOKEN_EXPIRED', 'The token has expired', 401)

export const TokenNotActiveError = define<'FST_JWT_AUTH_TOKEN_NOT_ACTIVE', 401, [Cause?]>(
  'FST_JWT_AUTH_TOKEN_NOT_ACTIVE', 'The token is not valid yet', 401)

export const WrongTokenTypeError = define<'FST_JWT_AUTH_WRONG_TOKEN_TYPE', 401, [string, Cause?]>(
  'FST_JWT_AUTH_WRONG_TOKEN_TYPE', '%s token is required', 401)

export const TokenRevokedError = define<'FST_JWT_AUTH_TOKEN_REVOKED', 401, [Cause?]>(
  'FST_JWT_AUTH_TOKEN_REVOKED', 'The token has been revoked', 401)

export const RefreshTokenReusedError = define<'FST_JWT_AUTH_REFRESH_TOKEN_REUSED', 401, [Cause?]>(
  'FST_JWT_AUTH_REFRESH_TOKEN_REUSED', 'The refresh token was already used; its session has been revoked', 401)

// A validly signed refresh token the store has no record of, its family not past it: the record was lost (a
// failover dropped the write) or expired. No proof of theft, so nothing is revoked; the client logs in again.
export const RefreshTokenUnknownError = define<'FST_JWT_AUTH_REFRESH_TOKEN_UNKNOWN', 401, [Cause?]>(
  'FST_JWT_AUTH_REFRESH_TOKEN_UNKNOWN', 'The refresh token is not known to the server; log in again', 401)

export const UserNotFoundError = define<'FST_JWT_AUTH_USER_NOT_FOUND', 401, [Cause?]>(
  'FST_JWT_AUTH_USER_NOT_FOUND', 'The token subject is not a known user', 401)

// Both 403s carry error="insufficient_scope" on the wire: the one error RFC 6750 section 3.1 defines for a 403.
export const ForbiddenError = define<'FST_JWT_AUTH_FORBIDDEN', 403, [Cause?]>(
  'FST_JWT_AUTH_FORBIDDEN', 'The user does not meet a required role, permission or condition', 403)

export const InsufficientScopeError = define<'FST_JWT_AUTH_INSUFFICIENT_SCOPE', 403, [Cause?]>(
  'FST_JWT_AUTH_INSUFFICIENT_SCOPE', 'The token does not grant a required scope', 403)

// RFC 9470: the token is good, its authentication is not enough (too old, or too weak); the challenge says what is
// (max_age, acr_values), which the error carries.
export const InsufficientUserAuthenticationError =
  define<'FST_JWT_AUTH_INSUFFICIENT_USER_AUTHENTICATION', 401, [string, Cause?]>(
    'FST_JWT_AUTH_INSUFFICIENT_USER_AUTHENTICATION', '%s', 401)

export const StoreUnavailableError = define<'FST_JWT_AUTH_STORE_UNAVAILABLE', 503, [Cause?]>(
  'FST_JWT_AUTH_STORE_UNAVAILABLE', 'The authentication store is unavailable', 503)

export const StoreFullError = define<'FST_JWT_AUTH_STORE_FULL', 503, [number, Cause?]>(
  'FST_JWT_AUTH_STORE_FULL', 'The memory store is full (%d live entries); raise maxEntries or use redisStore', 503)

export const InvalidCredentialsError = define<'FST_JWT_AUTH_INVALID_CREDENTIALS', 401, [Cause?]>(
  'FST_JWT_AUTH_INVALID_CREDENTIALS', 'Invalid username or password', 401)

export const InvalidCaptchaError = define<'FST_JWT_AUTH_INVALID_CAPTCHA', 400, [string, Cause?]>(
  'FST_JWT_AUTH_INVALID_CAPTCHA', '%s', 400)

export const AccountLockedError = define<'FST_JWT_AUTH_ACCOUNT_LOCKED', 429, [Cause?]>(
  'FST_JWT_AUTH_ACCOUNT_LOCKED', 'Too many failed logins for this account; try again later', 429)

export const UsernameTakenError = define<'FST_JWT_AUTH_USERNAME_TAKEN', 409, [Cause?]>(
  'FST_JWT_AUTH_USERNAME_TAKEN', 'This username is already taken', 409)

// A users adapter that keeps email addresses unique (fastify-jwt-auth/kysely) refuses a taken one with it.
export const EmailTakenError = define<'FST_JWT_AUTH_EMAIL_TAKEN', 409, [Cause?]>(
  'FST_JWT_AUTH_EMAIL_TAKEN', 'This email address is already used by an account', 409)

export const InvalidUsernameError = define<'FST_JWT_AUTH_INVALID_USERNAME', 400, [string, Cause?]>(
  'FST_JWT_AUTH_INVALID_USERNAME', '%s', 400)

export const WeakPasswordError = define<'FST_JWT_AUTH_WEAK_PASSWORD', 400, [string, Cause?]>(
  'FST_JWT_AUTH_WEAK_PASSWORD', '%s', 400)

export const CsrfError = define<'FST_JWT_AUTH_CSRF', 403, [Cause?]>(
  'FST_JWT_AUTH_CSRF', 'A valid CSRF token is required in the X-CSRF-Token header', 403)

export const ResetTokenInvalidError = define<'FST_JWT_AUTH_RESET_TOKEN_INVALID', 400, [Cause?]>(
  'FST_JWT_AUTH_RESET_TOKEN_INVALID', 'The password reset token is invalid, used or expired', 400)

export const VerificationTokenInvalidError = define<'FST_JWT_AUTH_VERIFICATION_TOKEN_INVALID', 400, [Cause?]>(
  'FST_JWT_AUTH_VERIFICATION_TOKEN_INVALID', 'The email verification token is invalid, used or expired', 400)

export const EmailNotVerifiedError = define<'FST_JWT_AUTH_EMAIL_NOT_VERIFIED', 403, [Cause?]>(
  'FST_JWT_AUTH_EMAIL_NOT_VERIFIED', 'The email address is not verified; a new verification message was sent', 403)

export const IssuerUnavailableError = define<'FST_JWT_AUTH_ISSUER_UNAVAILABLE', 503, [Cause?]>(
  'FST_JWT_AUTH_ISSUER_UNAVAILABLE', 'The token issuer\'s keys cannot be fetched; try again later', 503)

export const UndefinedHookError = define<'FST_JWT_AUTH_UNDEFINED_HOOK', 500, [string, string, string, Cause?]>(
  'FST_JWT_AUTH_UNDEFINED_HOOK',
  'fastify-jwt-auth: the route %s has %s: undefined, which Fastify ignores, leaving the route open: %s', 500)

export const EarlyRouteError = define<'FST_JWT_AUTH_EARLY_ROUTE', 500, [string, Cause?]>(
  'FST_JWT_AUTH_EARLY_ROUTE',
  'the route %s was declared on the app before fastify-jwt-auth loaded, so app.authenticate and app.authorize ' +
  'did not exist for it: it answers 500 until it is declared after `await app.register(jwtAuth, ...)` (or in a ' +
  'plugin registered after it), or is marked public with config: { public: true }', 500)

// Second factors (the mfa option). A wrong code and a bad mfa_token are 401s without a bearer challenge: what is
// wrong is not the access token (as a wrong password at login).
export const InvalidMfaCodeError = define<'FST_JWT_AUTH_INVALID_MFA_CODE', 401, [Cause?]>(
  'FST_JWT_AUTH_INVALID_MFA_CODE', 'The code is wrong, expired or already used', 401)

export const MfaTokenInvalidError = define<'FST_JWT_AUTH_MFA_TOKEN_INVALID', 401, [Cause?]>(
  'FST_JWT_AUTH_MFA_TOKEN_INVALID', 'The MFA token is invalid, used or expired: log in again', 401)

export const MfaSetupNotFoundError = define<'FST_JWT_AUTH_MFA_SETUP_NOT_FOUND', 400, [Cause?]>(
  'FST_JWT_AUTH_MFA_SETUP_NOT_FOUND',
  'No TOTP setup of this session to confirm (a setup lasts 10 minutes): start one with POST /mfa/totp/setup', 400)

export const MfaAlreadyEnabledError = define<'FST_JWT_AUTH_MFA_ALREADY_ENABLED', 409, [Cause?]>(
  'FST_JWT_AUTH_MFA_ALREADY_ENABLED', 'TOTP is already on for this account: turn it off first to set up another', 409)

export const MfaNotEnabledError = define<'FST_JWT_AUTH_MFA_NOT_ENABLED', 409, [Cause?]>(
  'FST_JWT_AUTH_MFA_NOT_ENABLED', 'TOTP is not on for this account', 409)

export const MfaRequiredError = define<'FST_JWT_AUTH_MFA_REQUIRED', 403, [Cause?]>(
  'FST_JWT_AUTH_MFA_REQUIRED',
  'This account logs in with a second factor: use POST /login, then POST /mfa/verify', 403)

// A 403 insufficient_scope on the wire: the token is good, for the MFA setup routes only.
export const MfaSetupRequiredError = define<'FST_JWT_AUTH_MFA_SETUP_REQUIRED', 403, [Cause?]>(
  'FST_JWT_AUTH_MFA_SETUP_REQUIRED',
  'A second factor must be set up first: this token reaches the MFA setup routes only (then log in again)', 403)

// Sign-in with other providers (the oauth option).
export const OAuthUnknownProviderError = define<'FST_JWT_AUTH_OAUTH_UNKNOWN_PROVIDER', 404, [Cause?]>(
  'FST_JWT_AUTH_OAUTH_UNKNOWN_PROVIDER', 'No such sign-in provider', 404)

// The callback's state: missing, unknown, used, expired, or of an attempt another browser began (login CSRF).
export const OAuthStateError = define<'FST_JWT_AUTH_OAUTH_STATE', 400, [string, Cause?]>(
  'FST_JWT_AUTH_OAUTH_STATE', '%s', 400)

export const OAuthRedirectError = define<'FST_JWT_AUTH_OAUTH_REDIRECT', 400, [Cause?]>(
  'FST_JWT_AUTH_OAUTH_REDIRECT', 'redirect_to is not an allowed landing URL (oauth.allowedRedirects)', 400)

export const OAuthCodeInvalidError = define<'FST_JWT_AUTH_OAUTH_CODE_INVALID', 400, [Cause?]>(
  'FST_JWT_AUTH_OAUTH_CODE_INVALID', 'The sign-in code is invalid, used or expired', 400)

// The provider's answer failed a check (its error response, a refused code or PKCE verifier, an ID token of another
// issuer or audience, with a wrong nonce, expired or badly signed): no sign-in. Why is in the oauth.failure event.
export const OAuthSignInFailedError = define<'FST_JWT_AUTH_OAUTH_SIGN_IN_FAILED', 401, [Cause?]>(
  'FST_JWT_AUTH_OAUTH_SIGN_IN_FAILED', 'The sign-in with the provider failed', 401)

export const OAuthProviderUnavailableError = define<'FST_JWT_AUTH_OAUTH_PROVIDER_UNAVAILABLE', 503, [Cause?]>(
  'FST_JWT_AUTH_OAUTH_PROVIDER_UNAVAILABLE', 'The sign-in provider cannot be reached; try again later', 503)

export const OAuthProviderError = define<'FST_JWT_AUTH_OAUTH_PROVIDER_ERROR', 502, [Cause?]>(
  'FST_JWT_AUTH_OAUTH_PROVIDER_ERROR', 'The sign-in provider gave an answer that is not one', 502)

// A first sign-in that the app does not let make an account (no users.create).
export const OAuthNoAccountError = define<'FST_JWT_AUTH_OAUTH_NO_ACCOUNT', 403, [Cause?]>(
  'FST_JWT_AUTH_OAUTH_NO_ACCOUNT', 'No account is linked to this sign-in, and sign-ups are closed', 403)

// The provider's sign-in is linked to another user, or the user has one of that provider already.
export const OAuthIdentityTakenError = define<'FST_JWT_AUTH_OAUTH_IDENTITY_TAKEN', 409, [Cause?]>(
  'FST_JWT_AUTH_OAUTH_IDENTITY_TAKEN', 'This sign-in is linked to an account already', 409)

// DELETE /identities/:provider of the user's last way to log in (no password, no other identity).
export const OAuthLastLoginError = define<'FST_JWT_AUTH_OAUTH_LAST_LOGIN', 409, [Cause?]>(
  'FST_JWT_AUTH_OAUTH_LAST_LOGIN',
  'This is the account\'s last way to log in: set a password or link another first', 409)

export const OAuthNotLinkedError = define<'FST_JWT_AUTH_OAUTH_NOT_LINKED', 404, [Cause?]>(
  'FST_JWT_AUTH_OAUTH_NOT_LINKED', 'The account has no identity of this provider', 404)

// Passkeys (the passkeys option).
// A registration that does not verify: malformed, of another origin or rpID, its challenge unknown, spent, expired,
// of another user or ceremony. What failed is for the server's eyes (the log), not the client's.
export const PasskeyInvalidError = define<'FST_JWT_AUTH_PASSKEY_INVALID', 400, [Cause?]>(
  'FST_JWT_AUTH_PASSKEY_INVALID', 'The passkey registration does not verify; start it again', 400)

// A login with a passkey that does not verify, for any reason (the passkey.login.failure event says which).
export const PasskeyLoginFailedError = define<'FST_JWT_AUTH_PASSKEY_LOGIN_FAILED', 401, [Cause?]>(
  'FST_JWT_AUTH_PASSKEY_LOGIN_FAILED', 'The login with a passkey failed', 401)

// The credential is registered already (to this user or another).
export const PasskeyTakenError = define<'FST_JWT_AUTH_PASSKEY_TAKEN', 409, [Cause?]>(
  'FST_JWT_AUTH_PASSKEY_TAKEN', 'This passkey is registered already', 409)

export const PasskeyNotFoundError = define<'FST_JWT_AUTH_PASSKEY_NOT_FOUND', 404, [Cause?]>(
  'FST_JWT_AUTH_PASSKEY_NOT_FOUND', 'The account has no passkey of this id', 404)

// DELETE /passkeys/:id of the user's last way to log in (no password, no other passkey, no identity).
export const PasskeyLastLoginError = define<'FST_JWT_AUTH_PASSKEY_LAST_LOGIN', 409, [Cause?]>(
  'FST_JWT_AUTH_PASSKEY_LAST_LOGIN',
  'This is the account\'s last way to log in: set a password or add another first', 409)
