import type { RateLimitPluginOptions } from '@fastify/rate-limit'
import { StoreUnavailableError } from '../errors.js'
import { REDIS_STORE } from '../stores/brand.js'
// Types only: the Redis module (and ioredis) is loaded only by apps that use redisStore().
import type { RedisClient, RedisStore } from '../stores/redis.js'

type Callback = (error: unknown, result?: unknown) => void

// @fastify/rate-limit defines these two Lua commands on the client and calls them with a callback.
const RATE_LIMIT_COMMANDS = new Set<string | symbol>(['rateLimit', 'rateLimitRead'])

/**
 * The client for @fastify/rate-limit: the store's own, with its command errors
 * made 503s (fail closed) rather than the plugin's 500s.
 */
function failClosedClient (client: RedisClient): RedisClient {
  return new Proxy(client, {
    get (target, property) {
      const value: unknown = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      if (!RATE_LIMIT_COMMANDS.has(property)) return value.bind(target)
      return (...args: unknown[]) => {
        const callback = args.pop() as Callback
        return value.call(target, ...args, (error: unknown, result: unknown) =>
          callback(error == null ? null : new StoreUnavailableError({ cause: error }), result))
      }
    }
  })
}

// The brand, not instanceof, which would need the class and so load ioredis.
function isRedisStore (store: object): store is Pick<RedisStore, 'client' | 'keyPrefix'> {
  return (store as { [REDIS_STORE]?: unknown })[REDIS_STORE] === true
}

/**
 * The rate limiter's options: with a Redis store (and no store of the app's
 * own choosing), the limits live in the same Redis, so they hold across instances.
 */
export function rateLimitOptions (limits: RateLimitPluginOptions, store: object): RateLimitPluginOptions {
  if (!isRedisStore(store) || limits.redis !== undefined || limits.store !== undefined) return limits
  return {
    nameSpace: `${store.keyPrefix}rl:`,
    ...limits,
    redis: failClosedClient(store.client) as RateLimitPluginOptions['redis']
  }
}
