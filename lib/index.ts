import { jwtAuth } from './plugin.js'

export default jwtAuth
export { jwtAuth }
export * from './errors.js'
export { bearerChallenge } from './request/challenge.js'
export { memoryStore, type MemoryStore, type MemoryStoreOptions } from './stores/memory.js'
export type * from './stores/types.js'
export { hashPassword, verifyPassword, needsRehash, OWASP_ARGON2ID, type PasswordOptions } from './users/passwords.js'
export { foldLogin } from './users/login-name.js'
export type { Duration } from './config/duration.js'
export {
  EVENT_CHANNEL, type AuthEvent, type AuthEventType, type AuthEventListener, type LoginFailureReason
} from './audit/events.js'
export type {
  AccountMessage, SendAccountMessage, PasswordResetOptions, EmailVerificationOptions, SendLimitOptions
} from './config/account.js'
export type { RateLimitOptions, RouteClass, RouteClassLimits } from './config/rate-limit.js'
export type { JwtAuthOptions, HmacOptions, KeysOptions, JwtAuthUsers, HmacAlgorithm } from './config/options.js'
export type { HmacSecret } from './config/options.js'
export type { SigningKey, KeyInput, AsymmetricAlgorithm } from './tokens/keys.js'
export type { RefreshTokenClaims, TokenType } from './tokens/jwt.js'
export type * from './types.js'
// In dist/, scripts/build.js points this re-export at a shim that loads ./redis.js (and ioredis) on the first
// redisStore() call, so that a memory-only app never loads ioredis. The class and FAIL_FAST_OPTIONS are
// values that would need it at once: they come from 'fastify-jwt-auth/redis'.
export { redisStore } from './redis.js'
export type { RedisStore, RedisStoreOptions, RedisClient } from './redis.js'
export type { CookieOptions } from './request/cookies.js'
export type { AuthorizePredicate, AuthorizeRequirement } from './request/authorize.js'
export type { PermissionsOption } from './config/permissions.js'
export type {
  TrustedIssuerOptions, TrustedIssuerAlgorithm, TrustedIssuerClaims, LegacyOptions, LegacyHmacAlgorithm,
  ForeignClaims, MapUser
} from './config/issuers.js'
