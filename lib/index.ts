// The main entry. The Redis store is in fastify-jwt-auth/redis (lib/redis.ts): neither this entry's code nor its
// types need the Redis client, an optional peer dependency that memory-only apps do not install.
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
export type {
  JwtAuthOptions, HmacOptions, KeysOptions, JwtAuthUsers, HmacAlgorithm, StoredFactors, NewUser, NewIdentity,
  UserIdentity, StoredPasskey, FoundPasskey, PasskeyUse
} from './config/options.js'
export type { MfaOptions, MfaEncryptionKey, MfaTotpOptions } from './config/mfa.js'
export type { OAuthOptions, OAuthProviderOptions } from './config/oauth.js'
export type { PasskeysOptions, PasskeyUserVerification } from './config/passkeys.js'
export type { HmacSecret } from './config/options.js'
export type { SigningKey, KeyInput, Jwk, AsymmetricAlgorithm } from './tokens/keys.js'
export type { RefreshTokenClaims, TokenType } from './tokens/jwt.js'
export type * from './types.js'
export type { CookieOptions } from './request/cookies.js'
export type { AuthorizePredicate, AuthorizeRequirement } from './request/authorize.js'
export type { PermissionsOption } from './config/permissions.js'
export type { AcrLevel, AmrValue } from './config/acr.js'
export type {
  TrustedIssuerOptions, TrustedIssuerAlgorithm, TrustedIssuerClaims, LegacyOptions, LegacyHmacAlgorithm,
  ForeignClaims, MapUser
} from './config/issuers.js'
