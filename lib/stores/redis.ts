import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis'
import type { AuthStore } from './types.js'

export type RedisClient = Redis | Cluster

export interface RedisStoreOptions {
  /** A client you own (for example `app.redis` of @fastify/redis): used as is, never closed by the store. */
  client?: RedisClient
  /** redis:// or rediss:// URL: the store opens its own client and closes it. */
  url?: string
  /** ioredis options for a client the store opens (for example `{ sentinels, name }` for Sentinel). */
  redisOptions?: RedisOptions
  /** Cluster seed nodes: the store opens its own cluster client. */
  cluster?: { nodes: ClusterNode[], options?: ClusterOptions }
  /** Prefix of every key; default 'jwt-auth:'. */
  keyPrefix?: string
}

// For clients the store opens: a command waits at most 1 s (also while
// disconnected, so the offline queue only holds what arrives within that
// second), and reconnection goes on with a capped back-off, so the store
// recovers by itself when Redis is back.
export const FAIL_FAST_OPTIONS: RedisOptions = {
  commandTimeout: 1000,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000)
}

// Atomic on a single key, so safe on a Cluster without hash tags.
const TAKE = "local value = redis.call('GET', KEYS[1]) if value then redis.call('DEL', KEYS[1]) end return value"
// The index key lives at least as long as its newest field needs.
const HASH_SET = "local ttl = redis.call('PTTL', KEYS[1]) redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) if ttl < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end return 1"
const INCREMENT = "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n"

type ScriptedClient = RedisClient & {
  jwtAuthTake (key: string): Promise<string | null>
  jwtAuthIncrement (key: string, ttlMs: number): Promise<number>
  jwtAuthHashSet (key: string, field: string, value: string, ttlMs: number): Promise<number>
}

const toMs = (ttlSeconds: number): number => {
  if (!(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) throw new TypeError(`redisStore: ttlSeconds must be a positive number (got ${String(ttlSeconds)})`)
  return Math.max(1, Math.ceil(ttlSeconds * 1000))
}

function openClient (options: RedisStoreOptions): { client: RedisClient, owned: boolean } {
  const sources = ['client', 'url', 'redisOptions', 'cluster'].filter((name) => options[name as keyof RedisStoreOptions] !== undefined)
  if (sources.length !== 1) throw new TypeError(`redisStore: give exactly one of client, url, redisOptions or cluster (got ${sources.length === 0 ? 'none' : sources.join(', ')})`)
  if (options.client !== undefined) return { client: options.client, owned: false }
  if (options.url !== undefined) return { client: new Redis(options.url, FAIL_FAST_OPTIONS), owned: true }
  if (options.redisOptions !== undefined) return { client: new Redis({ ...FAIL_FAST_OPTIONS, ...options.redisOptions }), owned: true }
  const { nodes, options: clusterOptions } = options.cluster!
  return {
    client: new Cluster(nodes, { ...clusterOptions, redisOptions: { ...FAIL_FAST_OPTIONS, ...clusterOptions?.redisOptions } }),
    owned: true
  }
}

/**
 * The store on Redis, for several instances: a single Redis, Sentinel or
 * Cluster. Every operation touches one key, with a TTL on every write.
 */
export class RedisStore implements AuthStore {
  /** The ioredis client: the plugin's rate limiter shares it. */
  readonly client: RedisClient
  readonly keyPrefix: string
  readonly #owned: boolean
  readonly #scripted: ScriptedClient

  constructor (options: RedisStoreOptions) {
    const { client, owned } = openClient(options)
    this.client = client
    this.#owned = owned
    this.keyPrefix = options.keyPrefix ?? 'jwt-auth:'
    if (typeof this.keyPrefix !== 'string') throw new TypeError('redisStore: keyPrefix must be a string')
    client.defineCommand('jwtAuthTake', { numberOfKeys: 1, lua: TAKE })
    client.defineCommand('jwtAuthIncrement', { numberOfKeys: 1, lua: INCREMENT })
    client.defineCommand('jwtAuthHashSet', { numberOfKeys: 1, lua: HASH_SET })
    this.#scripted = client as ScriptedClient
    // An unhandled 'error' event would crash the process; failures surface as command errors (503).
    if (owned) client.on('error', () => {})
  }

  async set (key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.client.set(this.keyPrefix + key, value, 'PX', toMs(ttlSeconds))
  }

  async get (key: string): Promise<string | null> {
    return this.client.get(this.keyPrefix + key)
  }

  async take (key: string): Promise<string | null> {
    return this.#scripted.jwtAuthTake(this.keyPrefix + key)
  }

  async delete (key: string): Promise<void> {
    await this.client.del(this.keyPrefix + key)
  }

  async increment (key: string, ttlSeconds: number): Promise<number> {
    return Number(await this.#scripted.jwtAuthIncrement(this.keyPrefix + key, toMs(ttlSeconds)))
  }

  async hset (key: string, field: string, value: string, ttlSeconds: number): Promise<void> {
    await this.#scripted.jwtAuthHashSet(this.keyPrefix + key, field, value, toMs(ttlSeconds))
  }

  async hgetall (key: string): Promise<Record<string, string>> {
    return this.client.hgetall(this.keyPrefix + key)
  }

  async hdel (key: string, field: string): Promise<void> {
    await this.client.hdel(this.keyPrefix + key, field)
  }

  /** Closes the client if the store opened it. */
  async close (): Promise<void> {
    if (!this.#owned) return
    // quit() lets pending replies arrive; when it fails (Redis gone or hung),
    // disconnect() still stops the client and its reconnection.
    await this.client.quit().catch(() => {})
    this.client.disconnect()
  }
}

/** A Redis store: `redisStore({ url })`, `redisStore({ client: app.redis })`, `redisStore({ cluster: { nodes } })`. */
export function redisStore (options: RedisStoreOptions): RedisStore {
  if (options === null || typeof options !== 'object') throw new TypeError('redisStore: options must be an object')
  return new RedisStore(options)
}
