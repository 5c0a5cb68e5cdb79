import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis'
import { checkKeys } from '../config/check.js'
import { REDIS_STORE } from './brand.js'
import { INVALIDATE, parseMarker, StoreSubscription } from './mirror.js'
import {
  ADVANCE_MARKER, EPHEMERAL_DELETE, EPHEMERAL_INCREMENT, EPHEMERAL_PUT, EPHEMERAL_TAKE, HASH_SET, ROTATE
} from './redis-scripts.js'
import { toRefreshState } from './refresh-state.js'
import type {
  AuthStore, Challenges, Counters, Locks, RefreshTokens, Revocations, RevocationScope, SessionIndex,
  StoreContext, UserInvalidationListener, UserInvalidations
} from './types.js'

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
   * stops answering and requests read Redis again. The subscription itself
   * (user invalidations) is always open; with `false` it only carries those.
   */
  mirror?: boolean | { staleAfter?: number }
  /**
   * Ephemeral entries kept at most, for each kind apart (challenges such as
   * captchas; failed-login counters); beyond it, those closest to their expiry
   * are evicted. Default 100,000.
   */
  maxEphemeral?: number
  /**
   * Close the store with the app it is registered on (default true): its own
   * connections (and, with a `url`, `redisOptions` or `cluster`, its client)
   * once the last app it serves has closed. `false` for a store you close
   * yourself, for example one shared by apps that come and go.
   */
  closeWithApp?: boolean
}

// For clients the store opens: a command waits at most 1 s (also while
// disconnected, so the offline queue only holds what arrives within that
// second), and reconnection goes on with a capped back-off, so the store
// recovers by itself when Redis is back.
export const FAIL_FAST_OPTIONS: RedisOptions = {
  commandTimeout: 1000,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
  // After quit() (or with Redis gone or frozen) a connection that does not close at once is destroyed soon,
  // so that closing the app lets the process exit (ioredis waits 2 s by default).
  disconnectTimeout: 250
}

// The subscription's connection carries nothing that must be flushed on close.
const SUBSCRIBER_DISCONNECT_MS = 100

const DEFAULT_STALE_AFTER_MS = 1000
/** Cluster node connections never reconnect; the subscription's own retries a few times, then starts over elsewhere. */
export const clusterSubscriberRetry = (attempt: number): number | null =>
  attempt > 5 ? null : Math.min(attempt * 100, 1000)
const RESUBSCRIBE_DELAY_MS = 1000

type ScriptedClient = RedisClient & {
  jwtAuthHashSet (key: string, field: string, value: string, ttlMs: number): Promise<number>
  jwtAuthAdvanceMarker (
    expiries: string, values: string, field: string, floor: number, ttlMs: number, now: number, channel: string
  ): Promise<string>
  jwtAuthRotate (
    token: string, successor: string, parent: string,
    record: string, ttlMs: number, successorId: string, graceMs: number, hasParent: '0' | '1'
  ): Promise<string | null>
  jwtAuthEphemeralPut (
    ranks: string, values: string, now: number, bound: number, field: string, expiresAt: number, payload: string
  ): Promise<number>
  jwtAuthEphemeralIncrement (
    ranks: string, values: string, now: number, bound: number, field: string, ttlMs: number
  ): Promise<number>
  jwtAuthEphemeralTake (
    ranks: string, values: string, now: number, bound: number, field: string
  ): Promise<string | null>
  jwtAuthEphemeralDelete (ranks: string, values: string, now: number, bound: number, field: string): Promise<number>
}

const toMs = (ttlSeconds: number): number => {
  if (!(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) {
    throw new TypeError(`redisStore: ttlSeconds must be a positive number (got ${String(ttlSeconds)})`)
  }
  return Math.max(1, Math.ceil(ttlSeconds * 1000))
}

// 0 is strict rotation: the spent token is forgotten at once.
const graceToMs = (graceSeconds: number): number => {
  if (!(graceSeconds >= 0) || !Number.isFinite(graceSeconds)) {
    throw new TypeError(`redisStore: graceSeconds must be 0 or a positive number (got ${String(graceSeconds)})`)
  }
  return graceSeconds === 0 ? 0 : toMs(graceSeconds)
}

const markerField = (scope: RevocationScope, id: string): string => `${scope === 'family' ? 'fam' : 'usr'}:${id}`

function openClient (options: RedisStoreOptions): { client: RedisClient, owned: boolean } {
  const sources = ['client', 'url', 'redisOptions', 'cluster']
    .filter((name) => options[name as keyof RedisStoreOptions] !== undefined)
  if (sources.length !== 1) {
    const got = sources.length === 0 ? 'none' : sources.join(', ')
    throw new TypeError(`redisStore: give exactly one of client, url, redisOptions or cluster (got ${got})`)
  }
  if (options.client !== undefined) return { client: options.client, owned: false }
  if (options.url !== undefined) return { client: new Redis(options.url, FAIL_FAST_OPTIONS), owned: true }
  if (options.redisOptions !== undefined) {
    return { client: new Redis({ ...FAIL_FAST_OPTIONS, ...options.redisOptions }), owned: true }
  }
  const { nodes, options: clusterOptions } = options.cluster!
  const redisOptions = { ...FAIL_FAST_OPTIONS, ...clusterOptions?.redisOptions }
  return { client: new Cluster(nodes, { ...clusterOptions, redisOptions }), owned: true }
}

/** The subscription's staleness bound in ms, and whether it keeps a copy of the markers. */
function mirrorOptions (mirror: RedisStoreOptions['mirror'] = true): { copy: boolean, staleAfter: number } {
  if (mirror === false) return { copy: false, staleAfter: DEFAULT_STALE_AFTER_MS }
  if (mirror === null || (mirror !== true && typeof mirror !== 'object')) {
    throw new TypeError('redisStore: mirror must be a boolean or { staleAfter }')
  }
  const staleAfter = mirror === true ? DEFAULT_STALE_AFTER_MS : mirror.staleAfter ?? DEFAULT_STALE_AFTER_MS
  if (!Number.isInteger(staleAfter) || staleAfter < 40) {
    throw new TypeError(
      `redisStore: mirror.staleAfter must be an integer of at least 40 ms (got ${String(staleAfter)})`
    )
  }
  return { copy: true, staleAfter }
}

function maxEphemeralOption (value: unknown = 100_000): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new TypeError(`redisStore: maxEphemeral must be a positive integer (got ${String(value)})`)
  }
  return value as number
}

const EVICTION_WARNING = 'fastify-jwt-auth: Redis may evict keys (maxmemory-policy is not noeviction): ' +
  'an evicted revocation marker brings a revoked token back. Run Redis with maxmemory-policy noeviction'

/**
 * The store on Redis, for several instances: a single Redis, Sentinel or
 * Cluster. Every key is under `keyPrefix`, every write has a TTL, and every
 * script touching several keys keeps them in one Cluster slot (hash tags).
 *
 * Keys: revocation markers in one index (`{revocations}:values` and
 * `:expiries`), refresh tokens `rt:{<family>}:<jti>`, session indexes
 * `ses:<user>`, locks `lk:<name>`, challenges in one bounded index
 * (`{ephemeral}:values` and `:expiries`) and counters in another (`{counters}:...`).
 */
export class RedisStore implements AuthStore {
  /** The ioredis client: the plugin's rate limiter shares it. */
  readonly client: RedisClient
  readonly keyPrefix: string
  readonly [REDIS_STORE] = true
  readonly #owned: boolean
  readonly #scripted: ScriptedClient
  readonly #markerExpiries: string
  readonly #markerValues: string
  /** The two bounded indexes of ephemeral entries: `[ranks, values]` keys, each under its own hash tag. */
  readonly #challengeIndex: [string, string]
  readonly #counterIndex: [string, string]
  readonly #maxEphemeral: number
  readonly #channel: string
  readonly #copyMarkers: boolean
  readonly #listeners: UserInvalidationListener[] = []
  /** 'ready' listeners put on the client by attach(): removed at close (the client may be yours). */
  readonly #readyChecks: Array<() => void> = []
  #subscription: StoreSubscription | undefined
  #closed = false
  readonly #closeWithApp: boolean
  /** Apps the store is attached to and that have not closed yet. */
  #apps = 0
  /** Your client ended (you closed it): no subscription is opened any more. */
  #clientEnded = false

  constructor (options: RedisStoreOptions) {
    if (options.closeWithApp !== undefined && typeof options.closeWithApp !== 'boolean') {
      throw new TypeError('redisStore: closeWithApp must be a boolean')
    }
    this.#closeWithApp = options.closeWithApp !== false
    const { copy, staleAfter } = mirrorOptions(options.mirror)
    this.#copyMarkers = copy
    this.#maxEphemeral = maxEphemeralOption(options.maxEphemeral)
    const keyPrefix = options.keyPrefix ?? 'jwt-auth:'
    if (typeof keyPrefix !== 'string') throw new TypeError('redisStore: keyPrefix must be a string')
    this.keyPrefix = keyPrefix
    const { client, owned } = openClient(options)
    this.client = client
    this.#owned = owned
    client.defineCommand('jwtAuthHashSet', { numberOfKeys: 1, lua: HASH_SET })
    client.defineCommand('jwtAuthAdvanceMarker', { numberOfKeys: 2, lua: ADVANCE_MARKER })
    client.defineCommand('jwtAuthRotate', { numberOfKeys: 3, lua: ROTATE })
    client.defineCommand('jwtAuthEphemeralPut', { numberOfKeys: 2, lua: EPHEMERAL_PUT })
    client.defineCommand('jwtAuthEphemeralIncrement', { numberOfKeys: 2, lua: EPHEMERAL_INCREMENT })
    client.defineCommand('jwtAuthEphemeralTake', { numberOfKeys: 2, lua: EPHEMERAL_TAKE })
    client.defineCommand('jwtAuthEphemeralDelete', { numberOfKeys: 2, lua: EPHEMERAL_DELETE })
    this.#scripted = client as ScriptedClient
    this.#markerExpiries = `${keyPrefix}{revocations}:expiries`
    this.#markerValues = `${keyPrefix}{revocations}:values`
    // Apart, so that a flood of captchas can never evict a failed-login counter in use.
    this.#challengeIndex = [`${keyPrefix}{ephemeral}:expiries`, `${keyPrefix}{ephemeral}:values`]
    this.#counterIndex = [`${keyPrefix}{counters}:expiries`, `${keyPrefix}{counters}:values`]
    this.#channel = `${keyPrefix}revocations`
    // An unhandled 'error' event would crash the process; failures surface as command errors (503).
    if (owned) client.on('error', () => {})
    this.#subscribe(staleAfter)
  }

  readonly revocations: Revocations = {
    raise: async (scope, id, floor, ttlSeconds) => {
      if (!Number.isFinite(floor)) {
        throw new TypeError(`redisStore: a marker's floor must be a finite number (got ${String(floor)})`)
      }
      const field = markerField(scope, id)
      const entry = await this.#scripted.jwtAuthAdvanceMarker(
        this.#markerExpiries, this.#markerValues, field, Math.floor(floor), toMs(ttlSeconds), Date.now(), this.#channel)
      const marker = parseMarker(entry)!
      // Read-your-writes: this instance enforces its own revocation, and drops a revoked user, at once.
      this.#subscription?.apply(field, marker)
      if (scope === 'user') this.#notify(id)
      return marker.value
    },
    read: async (scope, id) => {
      const entry = await this.client.hget(this.#markerValues, markerField(scope, id))
      const marker = entry === null ? undefined : parseMarker(entry)
      return marker !== undefined && marker.expiresAt > Date.now() ? String(marker.value) : null
    },
    peek: (scope, id) => this.#copyMarkers ? this.#subscription?.lookup(markerField(scope, id)) : undefined
  }

  readonly refreshTokens: RefreshTokens = {
    create: async (family, jti, record, ttlSeconds) => {
      await this.client.set(this.#refreshKey(family, jti), `L${record}`, 'PX', toMs(ttlSeconds))
    },
    find: async (family, jti) => toRefreshState(await this.client.get(this.#refreshKey(family, jti))),
    rotate: async ({ family, jti, parent, next, successor, ttlSeconds, graceSeconds }) => {
      const key = this.#refreshKey(family, jti)
      const previous = await this.#scripted.jwtAuthRotate(
        key, this.#refreshKey(family, next.jti), parent === undefined ? key : this.#refreshKey(family, parent),
        next.record, toMs(ttlSeconds), successor, graceToMs(graceSeconds), parent === undefined ? '0' : '1')
      return toRefreshState(previous)
    },
    discard: async (family, jti) => { await this.client.del(this.#refreshKey(family, jti)) }
  }

  readonly sessions: SessionIndex = {
    put: async (userId, family, session, ttlSeconds) => {
      await this.#scripted.jwtAuthHashSet(this.#sessionKey(userId), family, session, toMs(ttlSeconds))
    },
    list: (userId) => this.client.hgetall(this.#sessionKey(userId)),
    remove: async (userId, family) => { await this.client.hdel(this.#sessionKey(userId), family) },
    clear: async (userId) => { await this.client.del(this.#sessionKey(userId)) }
  }

  readonly counters: Counters = {
    increment: async (name, ttlSeconds) => {
      const ttlMs = toMs(ttlSeconds)
      return Number(
        await this.#scripted.jwtAuthEphemeralIncrement(...this.#ephemeral(this.#counterIndex), `c:${name}`, ttlMs)
      )
    },
    reset: async (name) => {
      await this.#scripted.jwtAuthEphemeralDelete(...this.#ephemeral(this.#counterIndex), `c:${name}`)
    }
  }

  readonly challenges: Challenges = {
    put: async (id, value, ttlSeconds) => {
      const ttlMs = toMs(ttlSeconds)
      const [ranks, values, now, bound] = this.#ephemeral(this.#challengeIndex)
      await this.#scripted.jwtAuthEphemeralPut(ranks, values, now, bound, `h:${id}`, now + ttlMs, value)
    },
    take: (id) => this.#scripted.jwtAuthEphemeralTake(...this.#ephemeral(this.#challengeIndex), `h:${id}`)
  }

  readonly locks: Locks = {
    lock: async (name, until, ttlSeconds) => {
      await this.client.set(`${this.keyPrefix}lk:${name}`, String(until), 'PX', toMs(ttlSeconds))
    },
    lockedUntil: async (name) => {
      const value = await this.client.get(`${this.keyPrefix}lk:${name}`)
      return value === null ? null : Number(value)
    }
  }

  readonly userInvalidations: UserInvalidations = (() => {
    const store = this
    return {
      publish: async (userId: string) => {
        // This instance first, even when Redis then fails.
        store.#notify(userId)
        await store.client.publish(store.#channel, INVALIDATE + userId)
      },
      listen: (listener: UserInvalidationListener) => { store.#listeners.push(listener) },
      /** Trusted subscription: subscribed, resynced since it (re)connected, heard from within staleAfter. */
      get live () { return store.#subscription?.synced === true }
    }
  })()

  /** True while revocation checks are answered by the local mirror. */
  get mirrorSynced (): boolean {
    return this.#copyMarkers && this.#subscription?.synced === true
  }

  /** Revocation markers held by the local mirror (0 without one). */
  get mirrorSize (): number {
    return this.#subscription?.size ?? 0
  }

  /**
   * Warns when Redis may evict keys: checked now if the client is ready, and
   * again on every later 'ready' (a failover may land on a node set up
   * otherwise). On a Cluster, every master known at that moment is checked.
   */
  attach ({ log }: StoreContext): void {
    if (this.#closed) throw new TypeError('redisStore: this store is closed; make a new one')
    this.#apps++
    const check = (): void => { this.#checkEviction(log) }
    if (this.client.status === 'ready') check()
    this.client.on('ready', check)
    this.#readyChecks.push(check)
  }

  /** An app it served has closed: the last one closes the store, unless `closeWithApp: false`. */
  async detach (): Promise<void> {
    this.#apps = Math.max(0, this.#apps - 1)
    if (this.#apps === 0 && this.#closeWithApp) await this.close()
  }

  /**
   * Closes the client if the store opened it, and always the subscription's
   * connection and timers: afterwards nothing of the store keeps the process
   * alive, whatever state Redis is in. Closing twice is harmless.
   */
  async close (): Promise<void> {
    this.#closed = true
    this.#subscription?.close()
    for (const check of this.#readyChecks.splice(0)) this.client.off('ready', check)
    if (!this.#owned || this.client.status === 'end') return
    // A connected client quits, so that replies on their way arrive (a hung Redis: until commandTimeout);
    // one that is connecting or waiting to reconnect has nothing to wait for. disconnect() then stops
    // the client and any reconnection in flight.
    if (this.client.status === 'ready') await this.client.quit().catch(() => {})
    this.client.disconnect()
  }

  // The family is the hash tag: a rotation's keys (token, successor, parent) share a slot.
  // Families are UUIDs: never empty, never starting with '}' (which would leave no tag).
  #refreshKey (family: string, jti: string): string {
    return `${this.keyPrefix}rt:{${family}}:${jti}`
  }

  #sessionKey (userId: string): string {
    return `${this.keyPrefix}ses:${userId}`
  }

  /** The leading arguments of every ephemeral script: the index's two keys, now, the bound. */
  #ephemeral ([ranks, values]: [string, string]): [string, string, number, number] {
    return [ranks, values, Date.now(), this.#maxEphemeral]
  }

  #notify (userId: string | null): void {
    for (const listener of this.#listeners) {
      // Called from the connection's message handler: one failing listener must not break it, nor skip the others.
      try { listener(userId) } catch {}
    }
  }

  #subscribe (staleAfter: number): void {
    // A client you own ends when you close it: the subscription's connection ends with it.
    if (!this.#owned) {
      this.client.once('end', () => {
        this.#clientEnded = true
        this.#subscription?.close()
      })
    }
    this.#openSubscription(staleAfter)
  }

  // A subscribed connection can do nothing else: the subscription has its own.
  #openSubscription (staleAfter: number): void {
    const { client } = this
    if (this.#closed || this.#clientEnded) return
    if (client instanceof Redis) {
      this.#listen(
        client.duplicate({ autoResubscribe: false, disconnectTimeout: SUBSCRIBER_DISCONNECT_MS }),
        staleAfter
      )
      return
    }
    // On a Cluster, published messages reach every node: one master's connection is enough.
    const masters = client.status === 'ready' ? client.nodes('master') : []
    if (masters.length === 0) {
      client.once('ready', () => { this.#openSubscription(staleAfter) })
      return
    }
    const node = masters[Math.floor(Math.random() * masters.length)]!
    // Cluster node connections never reconnect (the cluster re-routes instead), and a
    // duplicate inherits that: this one retries a few times, then starts over elsewhere.
    this.#listen(node.duplicate({
      autoResubscribe: false, retryStrategy: clusterSubscriberRetry, disconnectTimeout: SUBSCRIBER_DISCONNECT_MS
    }), staleAfter)
  }

  #listen (subscriber: Redis, staleAfter: number): void {
    subscriber.on('error', () => {})
    const subscription = new StoreSubscription({
      subscriber,
      channel: this.#channel,
      snapshot: this.#copyMarkers ? () => this.client.hgetall(this.#markerValues) : undefined,
      staleAfterMs: staleAfter,
      onInvalidate: (userId) => { this.#notify(userId) }
    })
    this.#subscription = subscription
    subscriber.once('end', () => {
      // Reconnection gave up (a node gone for good): a new subscription, on a master the cluster knows now.
      if (this.#subscription !== subscription || this.#closed || this.#clientEnded) return
      subscription.close()
      setTimeout(() => { this.#openSubscription(staleAfter) }, RESUBSCRIBE_DELAY_MS).unref()
    })
    if (subscriber.status === 'wait') subscriber.connect().catch(() => {})
  }

  #checkEviction (log: StoreContext['log']): void {
    const client = this.client
    const nodes: Array<{ node: Redis, name: string | undefined }> = client instanceof Redis
      ? [{ node: client, name: undefined }]
      : client.nodes('master').map(
        (node) => ({ node, name: `${String(node.options.host)}:${String(node.options.port)}` })
      )
    for (const { node, name } of nodes) {
      // Only the policy and the node's address are logged: never options, which may hold a password.
      const where = name === undefined ? {} : { node: name }
      node.config('GET', 'maxmemory-policy').then((reply: unknown) => {
        // [name, value]; anything but noeviction (or no answer) may evict.
        const policy = (reply as unknown[])[1]
        if (!this.#closed && policy !== 'noeviction') log.warn({ policy, ...where }, EVICTION_WARNING)
      }, (error: unknown) => {
        // Renamed or denied by an ACL, as on managed Redis: say so, once, without failing.
        if (this.#closed) return
        const reason = (error as Error).message
        log.info({ ...where, reason }, 'fastify-jwt-auth: could not check the Redis maxmemory-policy ' +
          '(CONFIG is renamed or denied); make sure it is noeviction: ' +
          'an evicted revocation marker brings a revoked token back')
      })
    }
  }
}

/** A Redis store: `redisStore({ url })`, `redisStore({ client: app.redis })`, `redisStore({ cluster: { nodes } })`. */
const REDIS_STORE_OPTIONS = [
  'client',
  'url',
  'redisOptions',
  'cluster',
  'keyPrefix',
  'mirror',
  'maxEphemeral',
  'closeWithApp'
]

export function redisStore (options: RedisStoreOptions): RedisStore {
  if (options === null || typeof options !== 'object') throw new TypeError('redisStore: options must be an object')
  const raise = (message: string): never => { throw new TypeError(`redisStore: ${message}`) }
  checkKeys(options, REDIS_STORE_OPTIONS, '', raise)
  if (typeof options.mirror === 'object' && options.mirror !== null) {
    checkKeys(options.mirror, ['staleAfter'], 'mirror', raise)
  }
  return new RedisStore(options)
}
