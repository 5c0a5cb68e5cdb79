import createError from '@fastify/error'

/** The last constructor argument of every error: its underlying cause. */
export interface Cause { cause: unknown }

// Every error the plugin raises. Codes carry the FST_JWT_AUTH_ prefix, as the
// @fastify/* plugins prefix theirs; the RFC 6750 meaning of each code lives in
// challenge.ts, next to the header it produces.

export const InvalidOptionError = createError<'FST_JWT_AUTH_INVALID_OPTION', [string, Cause?]>(
  'FST_JWT_AUTH_INVALID_OPTION', 'fastify-jwt-auth: %s', 500, TypeError)

export const MissingTokenError = createError<'FST_JWT_AUTH_NO_TOKEN', [Cause?]>(
  'FST_JWT_AUTH_NO_TOKEN', 'Authorization header with a bearer token is required', 401)

export const InvalidRequestError = createError<'FST_JWT_AUTH_INVALID_REQUEST', [string, Cause?]>(
  'FST_JWT_AUTH_INVALID_REQUEST', '%s', 400)

export const InvalidTokenError = createError<'FST_JWT_AUTH_INVALID_TOKEN', [string, Cause?]>(
  'FST_JWT_AUTH_INVALID_TOKEN', '%s', 401)

export const TokenExpiredError = createError<'FST_JWT_AUTH_TOKEN_EXPIRED', [Cause?]>(
  'FST_JWT_AUTH_TOKEN_EXPIRED', 'The token has expired', 401)

export const TokenNotActiveError = createError<'FST_JWT_AUTH_TOKEN_NOT_ACTIVE', [Cause?]>(
  'FST_JWT_AUTH_TOKEN_NOT_ACTIVE', 'The token is not valid yet', 401)

export const WrongTokenTypeError = createError<'FST_JWT_AUTH_WRONG_TOKEN_TYPE', [string, Cause?]>(
  'FST_JWT_AUTH_WRONG_TOKEN_TYPE', '%s token is required', 401)

export const TokenRevokedError = createError<'FST_JWT_AUTH_TOKEN_REVOKED', [Cause?]>(
  'FST_JWT_AUTH_TOKEN_REVOKED', 'The token has been revoked', 401)

export const RefreshTokenReusedError = createError<'FST_JWT_AUTH_REFRESH_TOKEN_REUSED', [Cause?]>(
  'FST_JWT_AUTH_REFRESH_TOKEN_REUSED', 'The refresh token was already used; its session has been revoked', 401)

export const UserNotFoundError = createError<'FST_JWT_AUTH_USER_NOT_FOUND', [Cause?]>(
  'FST_JWT_AUTH_USER_NOT_FOUND', 'The token subject is not a known user', 401)

export const InsufficientScopeError = createError<'FST_JWT_AUTH_INSUFFICIENT_SCOPE', [Cause?]>(
  'FST_JWT_AUTH_INSUFFICIENT_SCOPE', 'The token does not grant a required role', 403)

export const StoreUnavailableError = createError<'FST_JWT_AUTH_STORE_UNAVAILABLE', [Cause?]>(
  'FST_JWT_AUTH_STORE_UNAVAILABLE', 'The authentication store is unavailable', 503)

export const StoreFullError = createError<'FST_JWT_AUTH_STORE_FULL', [number, Cause?]>(
  'FST_JWT_AUTH_STORE_FULL', 'The memory store is full (%d live entries); raise maxEntries or use redisStore', 503)
