// The Redis store's options and the client it takes, typed here rather than with ioredis' types: an app that
// compiles without skipLibCheck then needs none of ioredis' declarations (nor those they import) to use the
// store. The store passes these options to ioredis as they are; its README documents every one of them. Only
// the code may name ioredis here: comments of declarations are published (scripts/build.js checks).
import { checkKeys, isObject } from '../config/check.js'
import { toMilliseconds, type Duration } from '../config/duration.js'
import { InvalidOptionError } from '../errors.js'

/** Called after a failed connection attempt: the delay before the next one (ms), or null (or nothing) to stop. */
export type RedisRetryStrategy = (attempt: number) => number | void | null

/** Addresses as the nodes announce them, mapped to where the app reaches them (NAT, Docker). */
export type RedisNatMap =
  | Record<string, { host: string, port: number }>
  | ((key: string) => { host: string, port: number } | null)

/** A Redis node: `{ host, port }`, a port on localhost, or `'host:port'`. */
export type RedisNodeAddress = string | number | { host?: string | undefined, port?: number | undefined }

/** A Sentinel: where it listens (port 26379 by default). */
export interface RedisSentinelAddress {
  host?: string | undefined
  port?: number | undefined
  family?: number | undefined
}

/**
 * The options of a client the store opens (`redisOptions`, and each node's of a Cluster): the connection,
 * credentials, TLS, timeouts, and Sentinel. The client takes more (see its documentation), and gets all given.
 */
export interface RedisConnectionOptions {
  host?: string | undefined
  port?: number | undefined
  /** A Unix socket, instead of host and port. */
  path?: string | undefined
  /** 4 or 6: the IP version to connect with. */
  family?: number | undefined
  username?: string | undefined
  password?: string | undefined
  /** The database index (SELECT). */
  db?: number | undefined
  /** Connects with TLS: node:tls connect options (`{}` for the defaults). */
  tls?: object | undefined
  /** The name of the connection (CLIENT SETNAME). */
  connectionName?: string | undefined
  /** How long a connection attempt may take (ms). */
  connectTimeout?: number | undefined
  /** How long a command may wait for its reply (ms). */
  commandTimeout?: number | undefined
  /** How long a closing connection may take before it is destroyed (ms). */
  disconnectTimeout?: number | undefined
  /** The TCP keep-alive delay (ms). */
  keepAlive?: number | undefined
  noDelay?: boolean | undefined
  /** Attempts of a command while disconnected before it fails; null: no limit. */
  maxRetriesPerRequest?: number | null | undefined
  retryStrategy?: RedisRetryStrategy | null | undefined
  /** Whether commands given while disconnected wait for the connection. */
  enableOfflineQueue?: boolean | undefined
  /** Whether the client checks that Redis has loaded its data before it is ready. */
  enableReadyCheck?: boolean | undefined
  /** Sentinel: the Sentinels asked for the master's address. */
  sentinels?: RedisSentinelAddress[] | undefined
  /** Sentinel: the name of the monitored master (as in `sentinel monitor <name> ...`). */
  name?: string | undefined
  /** Sentinel: connect to the master (default) or a replica. */
  role?: 'master' | 'slave' | undefined
  sentinelUsername?: string | undefined
  sentinelPassword?: string | undefined
  /** Sentinel: TLS options of the connections to the Sentinels (with enableTLSForSentinelMode). */
  sentinelTLS?: object | undefined
  enableTLSForSentinelMode?: boolean | undefined
  sentinelRetryStrategy?: RedisRetryStrategy | undefined
  /**
   * Sentinel: listen to the Sentinels for a failover (`+switch-master`) and reconnect to the new master at once.
   * The store turns it on for the Sentinel clients it opens (a demoted master would otherwise keep taking writes
   * until the Sentinels reconfigure it, and lose them).
   */
  failoverDetector?: boolean | undefined
  /**
   * Whether an error reply makes the client reconnect: false (no), true or 1 (reconnect), 2 (reconnect and send
   * the command again). The store's Sentinel clients reconnect on READONLY (a master demoted under them).
   */
  reconnectOnError?: ((error: Error) => boolean | 1 | 2) | null | undefined
  natMap?: RedisNatMap | undefined
}

/** The options of a Cluster client the store opens. */
export interface RedisClusterOptions {
  /** Options of every node's connection: credentials, TLS, timeouts (not its address). */
  redisOptions?: Omit<RedisConnectionOptions, 'host' | 'port' | 'path' | 'sentinels' | 'retryStrategy' |
    'enableOfflineQueue'> | undefined
  /** Called after the cluster could not be reached: the delay before the next attempt (ms), or null to stop. */
  clusterRetryStrategy?: ((attempt: number, reason?: Error) => number | void | null) | null | undefined
  natMap?: RedisNatMap | undefined
  /** Where reads go: 'master' (default), 'slave', 'all', or a function choosing the node (typed `object` here). */
  scaleReads?: 'master' | 'slave' | 'all' | object | undefined
  enableReadyCheck?: boolean | undefined
  maxRedirections?: number | undefined
  retryDelayOnFailover?: number | undefined
  retryDelayOnClusterDown?: number | undefined
  retryDelayOnTryAgain?: number | undefined
  slotsRefreshTimeout?: number | undefined
  slotsRefreshInterval?: number | undefined
}

/** An event listener, whatever its arguments. */
type Listener = (...args: unknown[]) => void

/**
 * A Redis client the store can use: a `Redis` (also through Sentinel) or `Cluster` client of the peer dependency,
 * such as `app.redis` of @fastify/redis. Described by what the store calls on it, so that these declarations need
 * none of the client's own.
 */
export interface RedisClient {
  /** 'ready' once connected and usable. */
  readonly status: string
  /** True on a Cluster client. */
  readonly isCluster: boolean
  on (event: string, listener: Listener): unknown
  once (event: string, listener: Listener): unknown
  off (event: string, listener: Listener): unknown
  connect (): Promise<unknown>
  quit (): Promise<unknown>
  disconnect (): void
  defineCommand (name: string, definition: { numberOfKeys: number, lua: string }): unknown
  get (key: string): Promise<string | null>
  set (key: string, value: string, unit: 'PX', milliseconds: number): Promise<unknown>
  del (key: string): Promise<number>
  hget (key: string, field: string): Promise<string | null>
  hgetall (key: string): Promise<Record<string, string>>
  hdel (key: string, field: string): Promise<number>
  publish (channel: string, message: string): Promise<number>
  /** The eviction policy check: `config('GET', 'maxmemory-policy')`. */
  config (subcommand: 'GET', parameter: string): Promise<unknown>
  /** Not on a Cluster: the store's subscription opens a connection of its own with it. */
  duplicate? (override?: object): unknown
  /** On a Cluster: its masters, one of which carries the store's subscription. */
  nodes? (role: 'master'): unknown[]
}

export interface RedisStoreOptions {
  /** A client you own (for example `app.redis` of @fastify/redis): used as is, never closed by the store. */
  client?: RedisClient
  /** A redis:// or rediss:// URL: the store opens its own client and closes it. */
  url?: string
  /** Options of a client the store opens (for example `{ sentinels, name }` for Sentinel). */
  redisOptions?: RedisConnectionOptions
  /** Cluster seed nodes: the store opens its own cluster client. */
  cluster?: { nodes: RedisNodeAddress[], options?: RedisClusterOptions }
  /** Prefix of every key; default 'jwt-auth:'. */
  keyPrefix?: string
  /**
   * How long registering the plugin waits for Redis to be ready (default '5s'): past it, register fails with
   * FST_JWT_AUTH_STORE_UNREACHABLE naming the address. Keep it under Fastify's `pluginTimeout` (10 s by
   * default), or Fastify fails register first without naming the cause.
   */
  readyTimeout?: Duration
  /**
   * Registers without waiting for Redis (default false): when it is not ready within `readyTimeout`, a warning
   * names the address, and requests that need the store answer 503 until it is.
   */
  startOffline?: boolean
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
  /**
   * Replicas that must have each revocation (logout, revokeAll, a password reset's) and each rotation before it
   * is acknowledged (default 0: none waited for). After such a write the store sends WAIT to the master that
   * took it; fewer replicas within `replicaTimeout` and the request answers 503, never a silent success. An
   * acknowledged write then survives a failover to any of those replicas.
   */
  replicas?: number
  /** How long a write waits for `replicas` (default '500ms'); keep it under `commandTimeout` and `storeTimeout`. */
  replicaTimeout?: Duration
}

// For clients the store opens: a command waits at most 1 s (also while
// disconnected, so the offline queue only holds what arrives within that
// second), and reconnection goes on with a capped back-off, so the store
// recovers by itself when Redis is back.
export const FAIL_FAST_OPTIONS = {
  commandTimeout: 1000,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  retryStrategy: (attempt: number): number => Math.min(attempt * 100, 2000),
  // After quit() (or with Redis gone or frozen) a connection that does not close at once is destroyed soon,
  // so that closing the app lets the process exit (the client waits 2 s by default).
  disconnectTimeout: 250
} satisfies RedisConnectionOptions

/**
 * What the store adds for the Sentinel clients it opens (yours win): a failover seen at once, and a master found
 * demoted (READONLY: it became a replica) left for the one the Sentinels name, the command sent there again
 * (READONLY means the replica did not run it).
 */
export const SENTINEL_OPTIONS = {
  failoverDetector: true,
  reconnectOnError: (error: Error): boolean | 2 => error.message.startsWith('READONLY') ? 2 : false
} satisfies RedisConnectionOptions

const KNOWN_OPTIONS = [
  'client', 'url', 'redisOptions', 'cluster', 'keyPrefix', 'readyTimeout', 'startOffline', 'mirror', 'maxEphemeral',
  'closeWithApp', 'replicas', 'replicaTimeout'
]
const DEFAULT_STALE_AFTER_MS = 1000
const DEFAULT_READY_TIMEOUT = '5s'
// Beyond it, a number meant as milliseconds (numbers are seconds), most likely.
const MAX_READY_TIMEOUT_MS = 300_000
const DEFAULT_REPLICA_TIMEOUT = '500ms'
// A write waits this long at most: longer, and every request behind it would wait too.
const MAX_REPLICA_TIMEOUT_MS = 60_000

export function fail (message: string): never {
  throw new InvalidOptionError(`redisStore: ${message}`)
}

/** The store's settings from its options, all checked before any connection is opened. */
export interface RedisStoreSettings {
  keyPrefix: string
  closeWithApp: boolean
  copyMarkers: boolean
  staleAfter: number
  maxEphemeral: number
  readyTimeoutMs: number
  startOffline: boolean
  /** WAIT after each durable security write: for `replicas`, at most `timeoutMs`; null: no WAIT. */
  replication: { replicas: number, timeoutMs: number } | null
}

/** The subscription's staleness bound in ms, and whether it keeps a copy of the markers. */
function mirrorOptions (mirror: RedisStoreOptions['mirror'] = true): { copyMarkers: boolean, staleAfter: number } {
  if (mirror === false) return { copyMarkers: false, staleAfter: DEFAULT_STALE_AFTER_MS }
  if (mirror === null || (mirror !== true && typeof mirror !== 'object')) {
    fail('mirror must be a boolean or { staleAfter }')
  }
  if (typeof mirror === 'object') checkKeys(mirror, ['staleAfter'], 'mirror', fail)
  const staleAfter = mirror === true ? DEFAULT_STALE_AFTER_MS : mirror.staleAfter ?? DEFAULT_STALE_AFTER_MS
  if (!Number.isInteger(staleAfter) || staleAfter < 40) {
    fail(`mirror.staleAfter must be an integer of at least 40 ms (got ${String(staleAfter)})`)
  }
  return { copyMarkers: true, staleAfter }
}

/** Checks every option but the connection's (see checkConnection): a bad one fails before anything is opened. */
export function storeSettings (options: RedisStoreOptions): RedisStoreSettings {
  if (!isObject(options as unknown)) fail('options must be an object')
  checkKeys(options, KNOWN_OPTIONS, '', fail)
  const { closeWithApp = true, keyPrefix = 'jwt-auth:', maxEphemeral = 100_000, startOffline = false } = options
  if (typeof closeWithApp !== 'boolean') fail('closeWithApp must be a boolean')
  if (typeof startOffline !== 'boolean') fail('startOffline must be a boolean')
  if (typeof keyPrefix !== 'string') fail('keyPrefix must be a string')
  if (!Number.isSafeInteger(maxEphemeral) || maxEphemeral < 1) {
    fail(`maxEphemeral must be a positive integer (got ${String(maxEphemeral)})`)
  }
  const readyTimeoutMs = toMilliseconds(options.readyTimeout ?? DEFAULT_READY_TIMEOUT, 'redisStore: readyTimeout',
    { min: 1, max: MAX_READY_TIMEOUT_MS })
  return {
    keyPrefix,
    closeWithApp,
    ...mirrorOptions(options.mirror),
    maxEphemeral,
    readyTimeoutMs,
    startOffline,
    replication: replicationOptions(options)
  }
}

function replicationOptions ({ replicas = 0, replicaTimeout }: RedisStoreOptions): RedisStoreSettings['replication'] {
  if (!Number.isSafeInteger(replicas) || replicas < 0) {
    fail(`replicas must be a whole number of replicas, 0 or more (got ${String(replicas)})`)
  }
  const timeoutMs = toMilliseconds(replicaTimeout ?? DEFAULT_REPLICA_TIMEOUT, 'redisStore: replicaTimeout',
    { min: 1, max: MAX_REPLICA_TIMEOUT_MS })
  return replicas === 0 ? null : { replicas, timeoutMs }
}

const REDIS_URL = 'a redis:// or rediss:// URL'

/** The `url` option, parsed: a redis:// or rediss:// URL (anything else fails, unrepeated: it may hold a password). */
function parseRedisUrl (url: unknown): URL {
  if (typeof url !== 'string') fail(`url must be ${REDIS_URL} (got ${typeof url})`)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return fail(`url must be ${REDIS_URL} (got a string that does not parse as a URL)`)
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    // Named when it is a web scheme only: in 'user:password@host' the "scheme" is the user name.
    const web = parsed.protocol === 'http:' || parsed.protocol === 'https:'
    fail(`url must be ${REDIS_URL} (got ${web ? `an ${parsed.protocol}// URL` : 'a URL of another scheme'})`)
  }
  // The client would take localhost: most likely a mistake (redis://${HOST} with HOST unset).
  if (parsed.hostname === '') fail('url must name a host (redis://host:port)')
  return parsed
}

/** Where the store connects, and the one option that says so: checked before anything is opened. */
export type Connection =
  | { kind: 'client', client: RedisClient }
  | { kind: 'url', url: string, parsed: URL }
  | { kind: 'redisOptions', redisOptions: RedisConnectionOptions }
  | { kind: 'cluster', nodes: RedisNodeAddress[], options: RedisClusterOptions | undefined }

export function checkConnection (options: RedisStoreOptions): Connection {
  const sources = (['client', 'url', 'redisOptions', 'cluster'] as const).filter((name) => options[name] !== undefined)
  if (sources.length !== 1) {
    const got = sources.length === 0 ? 'none' : sources.join(', ')
    fail(`give exactly one of client, url, redisOptions or cluster (got ${got})`)
  }
  const { client, url, redisOptions, cluster } = options
  if (client !== undefined) {
    if (!isObject(client) || typeof client.defineCommand !== 'function') {
      fail('client must be an ioredis client (Redis or Cluster), for example app.redis of @fastify/redis')
    }
    return { kind: 'client', client }
  }
  if (url !== undefined) return { kind: 'url', url, parsed: parseRedisUrl(url) }
  if (redisOptions !== undefined) {
    if (!isObject(redisOptions)) fail('redisOptions must be an object: the options of the client the store opens')
    return { kind: 'redisOptions', redisOptions }
  }
  if (!isObject(cluster)) fail('cluster must be { nodes, options }')
  checkKeys(cluster, ['nodes', 'options'], 'cluster', fail)
  if (!Array.isArray(cluster.nodes) || cluster.nodes.length === 0) fail('cluster.nodes must be a non-empty array')
  if (cluster.options !== undefined && !isObject(cluster.options)) fail('cluster.options must be an object')
  return { kind: 'cluster', nodes: cluster.nodes, options: cluster.options }
}
