import { jwtAuth } from './plugin.js'

export default jwtAuth
export { jwtAuth }
export * from './errors.js'
export { bearerChallenge } from './request/challenge.js'
export { memoryStore, type MemoryStore, type MemoryStoreOptions } from './stores/memory.js'
export type { AuthStore } from './stores/types.js'
export { hashPassword, verifyPassword, needsRehash, OWASP_ARGON2ID, type PasswordOptions } from './users/passwords.js'
export type { Duration } from './config/duration.js'
export type { JwtAuthOptions, HmacOptions, KeysOptions, JwtAuthUsers, HmacAlgorithm } from './config/options.js'
export type { SigningKey, KeyInput, AsymmetricAlgorithm } from './tokens/keys.js'
export type { RefreshTokenClaims, TokenType } from './tokens/jwt.js'
export type * from './types.js'
export { redisStore, RedisStore, FAIL_FAST_OPTIONS, type RedisStoreOptions, type RedisClient } from './stores/redis.js'
export type { CookieOptions } from './request/cookies.js'
