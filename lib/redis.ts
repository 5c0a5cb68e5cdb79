// fastify-jwt-auth/redis: the Redis store, apart from the main entry, which must not load ioredis (an optional
// peer dependency) for apps that keep their state in memory.
export {
  redisStore, RedisStore, FAIL_FAST_OPTIONS, type RedisStoreOptions, type RedisClient, type RedisConnectionOptions,
  type RedisClusterOptions, type RedisNodeAddress, type RedisSentinelAddress, type RedisNatMap, type RedisRetryStrategy
} from './stores/redis.js'
