import type { Redis } from 'ioredis'
import { InvalidOptionError, StoreUnreachableError } from '../errors.js'
import { REDIS_STORE } from './brand.js'
import { INVALIDATE, parseMarker, StoreSubscription, type Marker } from './mirror.js'
import {
  closeConnection, describeAddress, isCluster, keySlot, nodeKey, openClient, scanHash, untilReady,
  type IoRedisClient, type ReadyWait
} from './redis-connection.js'
import { checkConnection, storeSettings, type RedisClient, type RedisStoreOptions } from './redis-options.js'
import {
  ADVANCE_MARKER, CONFIRM_SPENT, EPHEMERAL_DELETE, EPHEMERAL_INCREMENT, EPHEMERAL_PUT, EPHEMERAL_TAKE, FIND, HASH_SET,
  MERGE_MARKERS, ROTATE
} from './redis-scripts.js'
import { toRefreshState } from './refresh-state.js'
import { replicatedWrites, UnreplicatedWriteError, type ReplicatedWrites } from './replicated-writes.js'
import type {
  AuthStore, Challenges, Counters, Locks, RefreshState, RefreshTokens, Revocations, RevocationScope, SessionIndex,
  StoreContext, UserInvalidationListener, UserInvalidations
} from './types.js'

export {
  FAIL_FAST_OPTIONS, type RedisClient, type RedisClusterOptions, type RedisConnectionOptions, type RedisNatMap,
  type RedisNodeAddress, type RedisRetryStrategy, type RedisSentinelAddress, type RedisStoreOptions
} from './redis-options.js'

// The subscription's connection carries nothing that must be flushed on close.
const SUBSCRIBER_DISCONNECT_MS = 100

/** Cluster node connections never reconnect; the subscription's own retries a few times, then starts over elsewhere. */
export const clusterSubscriberRetry = (attempt: number): number | null =>
  attempt > 5 ? null : Math.min(attempt * 100, 1000)
const RESUBSCRIBE_DELAY_MS = 1000
const RESTART_DELAY_MS = 100
// Markers written back per script run: each run holds Redis for its length.
const RESTORE_BATCH = 500
// Markers per HSCAN of the mirror's resync (a hint to Redis, which may answer more or fewer).
const SNAPSHOT_CHUNK = 1000

/** Events of the store's client that it listens to. */
type ClientEvent = 'ready' | 'refresh' | '+node' | '-node'

type ScriptedClient = IoRedisClient & {
  /** A refresh token's value, or 'G' + its family's generation when it has none (FIND). */
  jwtAuthFind (token: string, generation: string): Promise<string>
  jwtAuthHashSet (key: string, field: string, value: string, ttlMs: number): Promise<number>
  jwtAuthEphemeralPut (
    ranks: string, values: string, now: number, bound: number, field: string, expiresAt: number, payload: string
  ): Promise<number>
  jwtAuthEphemeralIncrement (
    ranks: string, values: string, now: number, bound: number, field: string, ttlMs: number
  ): Promise<number>
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

const EVICTION_WARNING = 'fastify-jwt-auth: Redis may evict keys (maxmemory-policy is not noeviction): ' +
  'an evicted revocation marker brings a revoked token back. Run Redis with maxmemory-policy noeviction'

/** The store's scripts, as commands of a connection (the client, and the replicated writes' own). */
function defineScripts (client: IoRedisClient): void {
  client.defineCommand('jwtAuthHashSet', { numberOfKeys: 1, lua: HASH_SET })
  client.defineCommand('jwtAuthAdvanceMarker', { numberOfKeys: 2, lua: ADVANCE_MARKER })
  client.defineCommand('jwtAuthMergeMarkers', { numberOfKeys: 2, lua: MERGE_MARKERS })
  client.defineCommand('jwtAuthFind', { numberOfKeys: 2, lua: FIND })
  client.defineCommand('jwtAuthRotate', { numberOfKeys: 4, lua: ROTATE })
  client.defineCommand('jwtAuthConfirmSpent', { numberOfKeys: 2, lua: CONFIRM_SPENT })
  client.defineCommand('jwtAuthEphemeralPut', { numberOfKeys: 2, lua: EPHEMERAL_PUT })
  client.defineCommand('jwtAuthEphemeralIncrement', { numberOfKeys: 2, lua: EPHEMERAL_INCREMENT })
  client.defineCommand('jwtAuthEphemeralTake', { numberOfKeys: 2, lua: EPHEMERAL_TAKE })
  client.defineCommand('jwtAuthEphemeralDelete', { numberOfKeys: 2, lua: EPHEMERAL_DELETE })
}

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
  /** The client: the plugin's rate limiter shares it. */
  readonly client: RedisClient
  readonly keyPrefix: string
  readonly [REDIS_STORE] = true
  /** The client, as the store uses it. */
  readonly #io: IoRedisClient
  readonly #owned: boolean
  readonly #scripted: ScriptedClient
  /** Revocations, rotations, locks and one-time takes: waited for replicas when told so. */
  readonly #durable: ReplicatedWrites['durable']
  /** Their connection, when replicas are waited for. */
  readonly #writes: ReplicatedWrites
  /** `replicas` was given: security writes wait for them. */
  readonly #replicated: boolean
  readonly #markerExpiries: string
  readonly #markerValues: string
  /** The two bounded indexes of ephemeral entries: `[ranks, values]` keys, each under its own hash tag. */
  readonly #challengeIndex: [string, string]
  readonly #counterIndex: [string, string]
  readonly #maxEphemeral: number
  readonly #channel: string
  readonly #copyMarkers: boolean
  readonly #listeners: UserInvalidationListener[] = []
  /** Listeners the store puts on the client: removed at close (the client may be yours). */
  readonly #clientHooks: Array<[ClientEvent, (...args: any[]) => void]> = []
  #subscription: StoreSubscription | undefined
  #closed = false
  /** The log of the app the store was first attached to: for what no request reports. */
  #log: StoreContext['log'] | undefined
  readonly #closeWithApp: boolean
  readonly #readyTimeoutMs: number
  readonly #startOffline: boolean
  /** Where the client connects, for messages: addresses only, never credentials. */
  readonly #address: string
  /** Waits for the client to be ready, still running: ended by close. */
  readonly #waits = new Set<ReadyWait>()
  /** Apps the store is attached to and that have not closed yet. */
  #apps = 0
  /** Your client ended (you closed it): no subscription is opened any more. */
  #clientEnded = false

  constructor (options: RedisStoreOptions) {
    const settings = storeSettings(options)
    const connection = checkConnection(options)
    const { keyPrefix } = settings
    this.keyPrefix = keyPrefix
    this.#closeWithApp = settings.closeWithApp
    this.#copyMarkers = settings.copyMarkers
    this.#maxEphemeral = settings.maxEphemeral
    this.#readyTimeoutMs = settings.readyTimeoutMs
    this.#startOffline = settings.startOffline
    const { client, owned, restartOnEnd } = openClient(connection)
    this.client = client as unknown as RedisClient
    this.#io = client
    this.#owned = owned
    this.#address = describeAddress(client, connection)
    defineScripts(client)
    this.#scripted = client as ScriptedClient
    // The writer the replicated writes open is the store's own, whoever owns the client: as the client is, but quiet.
    this.#writes = replicatedWrites(client, settings.replication, (writer) => {
      defineScripts(writer)
      writer.on('error', () => {})
      if (restartOnEnd) writer.on('end', () => { this.#restart(writer) })
    })
    this.#durable = this.#writes.durable
    this.#replicated = settings.replication !== null
    this.#markerExpiries = `${keyPrefix}{revocations}:expiries`
    this.#markerValues = `${keyPrefix}{revocations}:values`
    // Apart, so that a flood of captchas can never evict a failed-login counter in use.
    this.#challengeIndex = [`${keyPrefix}{ephemeral}:expiries`, `${keyPrefix}{ephemeral}:values`]
    this.#counterIndex = [`${keyPrefix}{counters}:expiries`, `${keyPrefix}{counters}:values`]
    this.#channel = `${keyPrefix}revocations`
    // An unhandled 'error' event would crash the process; failures surface as command errors (503).
    if (owned) client.on('error', () => {})
    if (restartOnEnd) client.on('end', () => { this.#restart(client) })
    if (settings.copyMarkers) this.#recheckOnNewMaster(client)
    this.#subscribe(settings.staleAfter)
  }

  readonly revocations: Revocations = {
    raise: async (scope, id, floor, ttlSeconds) => {
      if (!Number.isFinite(floor)) {
        throw new TypeError(`redisStore: a marker's floor must be a finite number (got ${String(floor)})`)
      }
      const field = markerField(scope, id)
      const entry = await this.#durable<string>('jwtAuthAdvanceMarker',
        this.#markerExpiries, this.#markerValues, field, Math.floor(floor), toMs(ttlSeconds), Date.now(), this.#channel)
      const marker = parseMarker(entry)!
      // Read-your-writes: this instance enforces its own revocation, and drops a revoked user, at once.
      this.#subscription?.apply(field, marker)
      if (scope === 'user') this.#notify(id)
      return marker.value
    },
    read: async (scope, id) => {
      const field = markerField(scope, id)
      const entry = await this.#io.hget(this.#markerValues, field)
      const marker = entry === null ? undefined : parseMarker(entry)
      const stored = marker !== undefined && marker.expiresAt > Date.now() ? marker.value : undefined
      // Redis may have lost a marker the copy holds (a failover): the copy's is as sure, until it is written back.
      const held = this.#subscription?.held(field)
      const value = held === undefined || (stored !== undefined && stored >= held) ? stored : held
      return value === undefined ? null : String(value)
    },
    peek: (scope, id) => this.#copyMarkers ? this.#subscription?.lookup(markerField(scope, id)) : undefined
  }

  readonly refreshTokens: RefreshTokens = {
    create: async (family, jti, record, ttlSeconds) => {
      await this.#io.set(this.#refreshKey(family, jti), `L${record}`, 'PX', toMs(ttlSeconds))
    },
    find: async (family, jti) => {
      const keys = [this.#refreshKey(family, jti), this.#generationKey(family)] as const
      return await this.#confirmed(keys, await this.#scripted.jwtAuthFind(...keys))
    },
    rotate: async ({ family, jti, parent, next, successor, ttlSeconds, graceSeconds, generation }) => {
      const keys = [this.#refreshKey(family, jti), this.#generationKey(family)] as const
      const previous = await this.#durable<string>('jwtAuthRotate', ...keys, this.#refreshKey(family, next.jti),
        this.#refreshKey(family, parent ?? jti), next.record, toMs(ttlSeconds), successor, graceToMs(graceSeconds),
        parent === undefined ? '0' : '1', generation)
      // Spent by another rotation (of another instance, maybe): this one wrote nothing its WAIT could vouch for.
      return await this.#confirmed(keys, previous)
    },
    discard: async (family, jti) => { await this.#io.del(this.#refreshKey(family, jti)) },
    generation: async (family) => Number(await this.#io.get(this.#generationKey(family)))
  }

  readonly sessions: SessionIndex = {
    put: async (userId, family, session, ttlSeconds) => {
      await this.#scripted.jwtAuthHashSet(this.#sessionKey(userId), family, session, toMs(ttlSeconds))
    },
    list: (userId) => this.#io.hgetall(this.#sessionKey(userId)),
    remove: async (userId, family) => { await this.#io.hdel(this.#sessionKey(userId), family) },
    clear: async (userId) => { await this.#io.del(this.#sessionKey(userId)) }
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
    // A one-time take (a reset link, a verification) is a security write: with replicas, waited for.
    take: async (id) => {
      const [ranks, values, now, bound] = this.#ephemeral(this.#challengeIndex)
      const field = `h:${id}`
      try {
        const entry = await this.#durable<string | null>('jwtAuthEphemeralTake', ranks, values, now, bound, field)
        return entry === null ? null : entry.slice(entry.indexOf(' ') + 1)
      } catch (error) {
        // Taken on the master, not known replicated (503): put back as it was (as a failover would have it), so
        // that the link still works once the replicas are.
        const entry = error instanceof UnreplicatedWriteError ? error.reply as string | null : null
        if (entry !== null) {
          const space = entry.indexOf(' ')
          await this.#scripted.jwtAuthEphemeralPut(ranks, values, Date.now(), bound, field,
            Number(entry.slice(0, space)), entry.slice(space + 1))
        }
        throw error
      }
    }
  }

  // A lock is a security write: with replicas, waited for (a failover must not undo a lockout).
  readonly locks: Locks = {
    lock: async (name, until, ttlSeconds) => {
      await this.#durable('set', `${this.keyPrefix}lk:${name}`, String(until), 'PX', toMs(ttlSeconds))
    },
    lockedUntil: async (name) => {
      const value = await this.#io.get(`${this.keyPrefix}lk:${name}`)
      return value === null ? null : Number(value)
    }
  }

  readonly userInvalidations: UserInvalidations = (() => {
    const store = this
    return {
      publish: async (userId: string) => {
        // This instance first, even when Redis then fails.
        store.#notify(userId)
        await store.#io.publish(store.#channel, INVALIDATE + userId)
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
   * Waits for the client to be ready (at most `readyTimeout`), unless `startOffline`; then warns when Redis may
   * evict keys: checked now if the client is ready, and again on every later 'ready' (a failover may land on a
   * node set up otherwise). On a Cluster, every master known at that moment is checked.
   */
  async attach ({ log }: StoreContext): Promise<void> {
    if (this.#closed) throw new InvalidOptionError('redisStore: this store is closed; make a new one')
    if (this.#io.status !== 'ready') {
      if (this.#startOffline) this.#warnWhileUnreachable(log)
      else await this.#untilReady()
    }
    this.#apps++
    this.#log ??= log
    const check = (): void => { this.#checkEviction(log) }
    if (this.#io.status === 'ready') check()
    this.#hook('ready', check)
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
    for (const wait of this.#waits) wait.cancel('the store was closed')
    this.#subscription?.close()
    for (const [event, hook] of this.#clientHooks.splice(0)) this.#io.off(event, hook)
    await this.#writes.close()
    if (this.#owned) await closeConnection(this.#io)
  }

  #hook (event: ClientEvent, hook: (...args: any[]) => void): void {
    this.#io.on(event, hook)
    this.#clientHooks.push([event, hook])
  }

  /**
   * What this instance wrote may have gone to a master that is gone: when the client reaches a new one, the mirror
   * compares its copy with the index there and writes back what it lacks. A single or Sentinel client reconnects
   * ('ready'); a Cluster client re-routes the index's slot silently, so its slot map is watched after each refresh.
   */
  #recheckOnNewMaster (client: IoRedisClient): void {
    const recheck = (): void => { this.#subscription?.recheck() }
    if (!isCluster(client)) {
      this.#hook('ready', recheck)
      return
    }
    const slot = keySlot(this.#markerValues)
    let master: string | undefined
    // The master of the index's slot as the client's map has it now; the first one is where it starts from.
    const follow = (): void => {
      // 'undefined' while the map has no master for it: then any master is a new one.
      const current = String(client.slots[slot]?.[0])
      if (master !== undefined && current !== master) recheck()
      master = current
    }
    this.#hook('refresh', follow)
    // A client you pass may be ready already: it refreshes its map next at the failover itself.
    this.#hook('ready', follow)
    if (client.status === 'ready') follow()
    // The master gone from the pool (its connection ended: killed, or restarted, perhaps empty, at the same address
    // before any failover): whichever node the map names next is a new master.
    this.#hook('-node', (node: Redis) => {
      if (nodeKey(node) === master) master = 'gone'
    })
    this.#hook('+node', follow)
  }

  #wait (unref: boolean): ReadyWait {
    const wait = untilReady(this.#io, { timeoutMs: this.#readyTimeoutMs, unref })
    this.#waits.add(wait)
    wait.done.then(() => this.#waits.delete(wait), () => this.#waits.delete(wait))
    return wait
  }

  /** Where Redis is and why it is not reachable: what the error and the warning say. */
  #unreachable (error: unknown): string {
    return `Redis at ${this.#address} is not reachable: ${(error as Error).message}`
  }

  async #untilReady (): Promise<void> {
    try {
      await this.#wait(false).done
    } catch (error) {
      // Register fails: what the store opened must not keep the process alive (unless another app uses it).
      if (this.#apps === 0 && this.#closeWithApp) await this.close()
      throw new StoreUnreachableError(`redisStore: ${this.#unreachable(error)}; start it or correct the ` +
        'address, or set startOffline: true to register without it')
    }
  }

  /** startOffline: register goes on; a warning if Redis is not ready within readyTimeout, a word once it is. */
  #warnWhileUnreachable (log: StoreContext['log']): void {
    const where = { redis: this.#address }
    this.#wait(true).done.catch((error: unknown) => {
      if (this.#closed) return
      log.warn(where, `fastify-jwt-auth: ${this.#unreachable(error)}; started without it (startOffline): ` +
        'requests that need the store answer 503 until it is')
      const reachable = (): void => { log.info(where, `fastify-jwt-auth: Redis at ${this.#address} is reachable`) }
      this.#io.once('ready', reachable)
      this.#clientHooks.push(['ready', reachable])
    })
  }

  // The family is the hash tag: a rotation's keys (token, successor, parent) share a slot.
  // Families are UUIDs: never empty, never starting with '}' (which would leave no tag).
  #refreshKey (family: string, jti: string): string {
    return `${this.keyPrefix}rt:{${family}}:${jti}`
  }

  /**
   * A token's state; with replicas, a spent one only once its rotation is known replicated (see CONFIRM_SPENT): its
   * successor is handed out again (a retry, a concurrent refresh) with a 200, so that rotation must not be lost in a
   * failover. Fewer replicas within the timeout: the store fails (503), as the rotation itself did. The writes'
   * connection may be on another node than the read's during a failover: when it has no record of a token the read
   * saw spent, the two nodes disagree and neither answer is known (a 503 the client retries), never a reuse.
   */
  async #confirmed (keys: readonly [string, string], value: string): Promise<RefreshState | null> {
    const state = toRefreshState(value)
    if (state?.state !== 'spent' || !this.#replicated) return state
    const confirmed = toRefreshState(await this.#durable<string>('jwtAuthConfirmSpent', ...keys))
    if (confirmed?.state === 'absent') {
      throw new Error('redisStore: a spent refresh token unknown to the node of the replicated writes (a failover?)')
    }
    return confirmed
  }

  #generationKey (family: string): string {
    return `${this.keyPrefix}rg:{${family}}`
  }

  #sessionKey (userId: string): string {
    return `${this.keyPrefix}ses:${userId}`
  }

  /** The leading arguments of every ephemeral script: the index's two keys, now, the bound. */
  #ephemeral ([ranks, values]: [string, string]): [string, string, number, number] {
    return [ranks, values, Date.now(), this.#maxEphemeral]
  }

  /** Starts a connection again when it ended on its own (see openClient): requests answer 503 meanwhile. */
  #restart (client: IoRedisClient): void {
    setTimeout(() => {
      if (!this.#closed && client.status === 'end') client.connect().catch(() => {})
    }, RESTART_DELAY_MS).unref()
  }

  #notify (userId: string | null): void {
    for (const listener of this.#listeners) {
      // Called from the connection's message handler: one failing listener must not break it, nor skip the others.
      try { listener(userId) } catch {}
    }
  }

  #subscribe (staleAfter: number): void {
    // A client you own ends when you close it: the subscription's and the replicated writes' connections end too.
    if (!this.#owned) {
      this.#io.once('end', () => {
        this.#clientEnded = true
        this.#subscription?.close()
        // It never rejects (closeConnection): nothing to wait for here.
        this.#writes.close()
      })
    }
    this.#openSubscription(staleAfter)
  }

  // A subscribed connection can do nothing else: the subscription has its own.
  #openSubscription (staleAfter: number): void {
    const client = this.#io
    if (this.#closed || this.#clientEnded) return
    if (!isCluster(client)) {
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
      copy: this.#copyMarkers
        ? {
            snapshot: (into) => scanHash(this.#io, this.#markerValues, SNAPSHOT_CHUNK, into),
            restore: (markers) => this.#restoreMarkers(markers)
          }
        : undefined,
      staleAfterMs: staleAfter,
      onInvalidate: (userId) => { this.#notify(userId) },
      replaces: this.#subscription
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

  /**
   * Markers the mirror held and Redis lost, written back, merged by max and published (as durable as a revocation:
   * with replicas, waited for). Only the count is logged: fields name users and sessions.
   */
  async #restoreMarkers (markers: Array<[string, Marker]>): Promise<void> {
    let restored = 0
    for (let start = 0; start < markers.length; start += RESTORE_BATCH) {
      const args: Array<string | number> = []
      for (const [field, { expiresAt, value }] of markers.slice(start, start + RESTORE_BATCH)) {
        args.push(field, expiresAt, value)
      }
      restored += await this.#durable<number>('jwtAuthMergeMarkers', this.#markerExpiries, this.#markerValues,
        Date.now(), this.#channel, ...args)
    }
    // None when another instance wrote them back first (the script merges, so both are right), or when this was a
    // write-back sent again after a failed WAIT.
    if (restored > 0) {
      this.#log?.warn({ markers: restored }, 'fastify-jwt-auth: Redis lacked revocation markers this instance held ' +
        '(a failover, or a restart without persistence): written back')
    }
  }

  #checkEviction (log: StoreContext['log']): void {
    const client = this.#io
    const nodes: Array<{ node: Redis, name: string | undefined }> = !isCluster(client)
      ? [{ node: client, name: undefined }]
      : client.nodes('master').map(
        (node) => ({ node, name: nodeKey(node) })
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
export function redisStore (options: RedisStoreOptions): RedisStore {
  return new RedisStore(options)
}
