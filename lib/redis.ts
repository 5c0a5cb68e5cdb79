// fastify-jwt-auth/redis: the Redis store, apart from the main entry, which
// must not load ioredis for apps that keep their state in memory.
export { redisStore, RedisStore, FAIL_FAST_OPTIONS, type RedisStoreOptions, type RedisClient } from './stores/redis.js'
