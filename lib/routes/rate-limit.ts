import type { RateLimitPluginOptions } from '@fastify/rate-limit'
import type { RouteClass } from '../config/rate-limit.js'
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
 * One class's rate limiter options, counting apart from the other classes: with
 * a Redis store (and no backend of the app's own choosing), in the same Redis,
 * so that the limits hold across instances.
 */
export function rateLimitOptions (
  limits: RateLimitPluginOptions,
  routeClass: RouteClass,
  store: object
): RateLimitPluginOptions {
  const options = { ...limits, global: true }
  if (limits.store !== undefined) return options
  if (limits.redis !== undefined) {
    return { ...options, nameSpace: `${limits.nameSpace ?? 'fastify-rate-limit-'}${routeClass}:` }
  }
  if (!isRedisStore(store)) return options
  return {
    ...options,
    nameSpace: `${limits.nameSpace ?? `${store.keyPrefix}rl:`}${routeClass}:`,
    redis: failClosedClient(store.client) as RateLimitPluginOptions['redis']
  }
}
