/**
 * Set to true on a Redis store, so that the routes' rate limiter can share its
 * client without importing the Redis module (nor its client library) at run time.
 */
export const REDIS_STORE = Symbol.for('fastify-jwt-auth.redis-store')
