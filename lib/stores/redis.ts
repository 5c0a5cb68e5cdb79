import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis'
import { parseMarker, RevocationMirror } from './mirror.js'
import { isMarkerKey, type AuthStore } from './types.js'

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
  /**
   * A local copy of the revocation markers, kept current through pub/sub, so
   * `authenticate` needs no round trip (default true). `staleAfter` (ms,
   * default 1000): how long the subscription may stay silent before the copy
   * stops answering and requests read Redis again.
   */
  mirror?: boolean | { staleAfter?: number }
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
// Revocation markers live in one hash (field -> '<expiresAt> <value>') with a
// sorted set of expiries beside it, both under one hash tag (one Cluster slot):
// a write is atomic with its publication, and a mirror resyncs with one HGETALL.
// KEYS: expiries, values. ARGV: field, floor, ttl ms, now ms, channel.
const ADVANCE_MARKER = `
local field, floor, ttl, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local value, expires = floor, now + ttl
local current = redis.call('HGET', KEYS[2], field)
if current then
  local space = string.find(current, ' ', 1, true)
  local known_expires = tonumber(string.sub(current, 1, space - 1))
  if known_expires > now then
    value = math.max(value, tonumber(string.sub(current, space + 1)) + 1)
    expires = math.max(expires, known_expires)
  end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)
if #expired > 0 then
  redis.call('HDEL', KEYS[2], unpack(expired))
  redis.call('ZREM', KEYS[1], unpack(expired))
end
local entry = string.format('%d %d', expires, value)
redis.call('HSET', KEYS[2], field, entry)
redis.call('ZADD', KEYS[1], expires, field)
-- The index lives as long as its last marker.
if redis.call('PTTL', KEYS[1]) < expires - now then
  redis.call('PEXPIRE', KEYS[1], expires - now)
  redis.call('PEXPIRE', KEYS[2], expires - now)
end
redis.call('PUBLISH', ARGV[5], entry .. ' ' .. field)
return entry`

type ScriptedClient = RedisClient & {
  jwtAuthTake (key: string): Promise<string | null>
  jwtAuthIncrement (key: string, ttlMs: number): Promise<number>
  jwtAuthHashSet (key: string, field: string, value: string, ttlMs: number): Promise<number>
  jwtAuthAdvanceMarker (expiries: string, values: string, field: string, floor: number, ttlMs: number, now: number, channel: string): Promise<string>
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

/** The mirror's staleness bound in ms, undefined with the mirror off. */
function mirrorStaleAfter (mirror: RedisStoreOptions['mirror'] = true): number | undefined {
  if (mirror === false) return undefined
  if (mirror === null || (mirror !== true && typeof mirror !== 'object')) throw new TypeError('redisStore: mirror must be a boolean or { staleAfter }')
  const staleAfter = mirror === true ? 1000 : mirror.staleAfter ?? 1000
  if (!Number.isInteger(staleAfter) || staleAfter < 40) throw new TypeError(`redisStore: mirror.staleAfter must be an integer of at least 40 ms (got ${String(staleAfter)})`)
  return staleAfter
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
  readonly #markerExpiries: string
  readonly #markerValues: string
  readonly #channel: string
  #mirror: RevocationMirror | undefined
  #closed = false

  constructor (options: RedisStoreOptions) {
    const staleAfter = mirrorStaleAfter(options.mirror)
    const { client, owned } = openClient(options)
    this.client = client
    this.#owned = owned
    this.keyPrefix = options.keyPrefix ?? 'jwt-auth:'
    if (typeof this.keyPrefix !== 'string') throw new TypeError('redisStore: keyPrefix must be a string')
    client.defineCommand('jwtAuthTake', { numberOfKeys: 1, lua: TAKE })
    client.defineCommand('jwtAuthIncrement', { numberOfKeys: 1, lua: INCREMENT })
    client.defineCommand('jwtAuthHashSet', { numberOfKeys: 1, lua: HASH_SET })
    client.defineCommand('jwtAuthAdvanceMarker', { numberOfKeys: 2, lua: ADVANCE_MARKER })
    this.#scripted = client as ScriptedClient
    this.#markerExpiries = `${this.keyPrefix}{revocations}:expiries`
    this.#markerValues = `${this.keyPrefix}{revocations}:values`
    this.#channel = `${this.keyPrefix}revocations`
    // An unhandled 'error' event would crash the process; failures surface as command errors (503).
    if (owned) client.on('error', () => {})
    this.#openMirror(staleAfter)
  }

  #openMirror (staleAfter: number | undefined): void {
    if (staleAfter === undefined) return
    const { client } = this
    const open = (subscriber: Redis): void => {
      if (this.#closed) return
      subscriber.on('error', () => {})
      this.#mirror = new RevocationMirror({
        subscriber,
        channel: this.#channel,
        snapshot: () => this.client.hgetall(this.#markerValues),
        staleAfterMs: staleAfter
      })
      if (subscriber.status === 'wait') subscriber.connect().catch(() => {})
      // A client you own ends when you close it: the mirror's connection ends with it.
      if (!this.#owned) client.once('end', () => { this.#mirror?.close() })
    }
    // A subscribed connection can do nothing else: the mirror has its own.
    if (client instanceof Redis) open(client.duplicate({ autoResubscribe: false }))
    // On a Cluster, published messages reach every node: one node's connection is enough.
    else if (client.status === 'ready') open(client.nodes('master')[0]!.duplicate({ autoResubscribe: false }))
    else client.once('ready', () => open(client.nodes('master')[0]!.duplicate({ autoResubscribe: false })))
  }

  /** True while revocation checks are answered by the local mirror. */
  get mirrorSynced (): boolean {
    return this.#mirror?.synced === true
  }

  /** Revocation markers held by the local mirror (0 without one). */
  get mirrorSize (): number {
    return this.#mirror?.size ?? 0
  }

  /** The marker from the local mirror; undefined (read Redis) for other keys or while the mirror is not trusted. */
  peek (key: string): string | null | undefined {
    return this.#mirror !== undefined && isMarkerKey(key) ? this.#mirror.lookup(key) : undefined
  }

  async advance (key: string, floor: number, ttlSeconds: number): Promise<number> {
    if (!isMarkerKey(key)) throw new TypeError(`redisStore: advance is for revocation markers (fam:, usr:), not ${key}`)
    const entry = await this.#scripted.jwtAuthAdvanceMarker(this.#markerExpiries, this.#markerValues, key, Math.floor(floor), toMs(ttlSeconds), Date.now(), this.#channel)
    const marker = parseMarker(entry)!
    // Read-your-writes: this instance enforces its own revocation at once.
    this.#mirror?.apply(key, marker)
    return marker.value
  }

  async set (key: string, value: string, ttlSeconds: number): Promise<void> {
    if (isMarkerKey(key)) {
      // A marker never goes down: setting one raises it to at least the value.
      const floor = Number(value)
      if (!Number.isSafeInteger(floor)) throw new TypeError(`redisStore: a revocation marker holds an integer (got ${value} for ${key})`)
      await this.advance(key, floor, ttlSeconds)
      return
    }
    await this.client.set(this.keyPrefix + key, value, 'PX', toMs(ttlSeconds))
  }

  async get (key: string): Promise<string | null> {
    if (!isMarkerKey(key)) return this.client.get(this.keyPrefix + key)
    const entry = await this.client.hget(this.#markerValues, key)
    const marker = entry === null ? undefined : parseMarker(entry)
    return marker !== undefined && marker.expiresAt > Date.now() ? String(marker.value) : null
  }

  async take (key: string): Promise<string | null> {
    refuseMarker(key, 'take')
    return this.#scripted.jwtAuthTake(this.keyPrefix + key)
  }

  async delete (key: string): Promise<void> {
    refuseMarker(key, 'delete')
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
    this.#closed = true
    this.#mirror?.close()
    if (!this.#owned) return
    // quit() lets pending replies arrive; when it fails (Redis gone or hung),
    // disconnect() still stops the client and its reconnection.
    await this.client.quit().catch(() => {})
    this.client.disconnect()
  }
}

// A revocation can only be outlived, never undone.
function refuseMarker (key: string, operation: string): void {
  if (isMarkerKey(key)) throw new TypeError(`redisStore: revocation markers cannot be ${operation === 'take' ? 'taken' : 'deleted'} (${key})`)
}

/** A Redis store: `redisStore({ url })`, `redisStore({ client: app.redis })`, `redisStore({ cluster: { nodes } })`. */
export function redisStore (options: RedisStoreOptions): RedisStore {
  if (options === null || typeof options !== 'object') throw new TypeError('redisStore: options must be an object')
  return new RedisStore(options)
}
