// The Redis store's client: opened from the options (or yours), described for messages (where it connects, never
// its credentials), and waited for at register. Internal (stripInternal): the published declarations must not
// name ioredis (see redis-options.ts).
import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis'
import {
  FAIL_FAST_OPTIONS, SENTINEL_OPTIONS, type Connection, type RedisConnectionOptions, type RedisNodeAddress
} from './redis-options.js'

/** @internal */
export type IoRedisClient = Redis | Cluster

// On a Cluster, not instanceof: a client of another copy of ioredis (one nested under @fastify/redis, say) is not
// an instance of this copy's classes.
/** @internal */
export const isCluster = (client: IoRedisClient): client is Cluster => client.isCluster

/** @internal A Cluster node's `host:port`: how ioredis names it in its slot map, and how messages name it. */
export const nodeKey = (node: Redis): string => `${String(node.options.host)}:${String(node.options.port)}`

/**
 * @internal
 * The Cluster slot of a key, as the Redis Cluster specification computes it: CRC16 (XMODEM) of its hash tag (what
 * lies between its first '{' and the next '}', when not empty) or else of the whole key, modulo 16384.
 */
export function keySlot (key: string): number {
  const bytes = Buffer.from(key)
  const open = bytes.indexOf(0x7b)
  const close = open === -1 ? -1 : bytes.indexOf(0x7d, open + 1)
  let crc = 0
  for (const byte of close > open + 1 ? bytes.subarray(open + 1, close) : bytes) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++) crc = (crc & 0x8000) !== 0 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc % 16384
}

// One HSCAN step on a Cluster, as a script: the client sends scripts to the master of the key's slot (a read
// command may go to a replica under scaleReads, which may hold what the master lost), and the answer names the
// node's run id, so that a step the client re-routed to another node is seen.
const CLUSTER_SCAN_STEP = "local node = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') " +
  "if not node then return redis.error_reply('ERR no run_id in INFO server') end " +
  "local step = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2]) return { node, step[1], step[2] }"

type ScanStep = (cursor: string) => Promise<[next: string, chunk: string[]]>

/** A Cluster scan's step: a chunk read on the master, refused when a node other than the first one answers. */
function clusterScanStep (client: Cluster, key: string, count: number): ScanStep {
  let node: string | undefined
  return async (cursor) => {
    const reply = await client.eval(CLUSTER_SCAN_STEP, 1, key, cursor, count)
    const [runId, next, chunk] = reply as [string, string, string[]]
    node ??= runId
    if (runId !== node) throw new Error(`the slot of ${key} moved to another node while it was read`)
    return [next, chunk]
  }
}

/**
 * @internal
 * A hash's fields and values, `[field, value, ...]`, a chunk of about `count` at a time (HSCAN), until `into`
 * answers false. A cursor means nothing on another node: a single or Sentinel client that reconnects mid-scan makes
 * its caller start over (the mirror's resync does); a Cluster client re-routes a moved slot silently, so there a
 * step answered by another node than the first fails the scan, for its caller to start over the same way.
 */
export async function scanHash (
  client: IoRedisClient, key: string, count: number, into: (chunk: string[]) => boolean
): Promise<void> {
  const step: ScanStep = isCluster(client)
    ? clusterScanStep(client, key, count)
    : async (cursor) => await client.hscan(key, cursor, 'COUNT', count)
  let cursor = '0'
  do {
    const [next, chunk] = await step(cursor)
    if (!into(chunk)) return
    cursor = next
  } while (cursor !== '0')
}

/**
 * @internal
 * The client, whether the store owns it, and whether it must be started again when it ends while the store is
 * open: a Sentinel client with failoverDetector can end for good when a failover is announced while it is
 * reconnecting (ioredis then closes the connection it is opening, and gives up), after a SIGKILL of the master
 * say.
 */
export function openClient (connection: Connection): { client: IoRedisClient, owned: boolean, restartOnEnd: boolean } {
  switch (connection.kind) {
    case 'client': return { client: connection.client as unknown as IoRedisClient, owned: false, restartOnEnd: false }
    case 'url': return { client: new Redis(connection.url, FAIL_FAST_OPTIONS), owned: true, restartOnEnd: false }
    case 'redisOptions': {
      const { redisOptions } = connection
      const sentinel = Array.isArray(redisOptions.sentinels) && redisOptions.sentinels.length > 0
      const options = { ...FAIL_FAST_OPTIONS, ...(sentinel ? SENTINEL_OPTIONS : {}), ...redisOptions }
      const client = new Redis(options as RedisOptions)
      return { client, owned: true, restartOnEnd: options.failoverDetector === true }
    }
    case 'cluster': {
      const options = connection.options as ClusterOptions | undefined
      const redisOptions = { ...FAIL_FAST_OPTIONS, ...options?.redisOptions }
      const client = new Cluster(connection.nodes as ClusterNode[], { ...options, redisOptions })
      return { client, owned: true, restartOnEnd: false }
    }
  }
}

/**
 * @internal
 * Closes a connection the store opened: a connected one quits, so that replies on their way arrive (a hung Redis:
 * until commandTimeout); one that is connecting or waiting to reconnect has nothing to wait for. disconnect() then
 * stops it and any reconnection in flight.
 */
export async function closeConnection (client: IoRedisClient): Promise<void> {
  if (client.status === 'end') return
  if (client.status === 'ready') await client.quit().catch(() => {})
  client.disconnect()
}

const DEFAULT_PORT = 6379
const SENTINEL_PORT = 26379

/** @internal */
export function nodeAddress (node: RedisNodeAddress): string {
  if (typeof node === 'number') return `localhost:${node}`
  if (typeof node !== 'string') return `${node.host ?? 'localhost'}:${node.port ?? DEFAULT_PORT}`
  if (/^\d+$/.test(node)) return `localhost:${node}`
  try {
    // 'host:port' or a URL: its host and port only, never a user name or password it may hold.
    const url = new URL(node.includes('//') ? node : `redis://${node}`)
    return `${url.hostname}:${url.port === '' ? DEFAULT_PORT : url.port}`
  } catch {
    return 'a node given as an unparsable string'
  }
}

function connectionAddress (options: RedisConnectionOptions): string {
  // The client's own options hold null for what was not given.
  const { sentinels } = options
  if (Array.isArray(sentinels) && sentinels.length > 0) {
    const where = sentinels.map(({ host, port }) => nodeAddress({ host, port: port ?? SENTINEL_PORT })).join(', ')
    return `the master '${String(options.name)}' of the Sentinels ${where}`
  }
  if (typeof options.path === 'string') return `the socket ${options.path}`
  return nodeAddress(options)
}

/** @internal Where the client connects, as a message may name it: addresses only, never a user name or password. */
export function describeAddress (client: IoRedisClient, connection: Connection): string {
  switch (connection.kind) {
    case 'url': {
      const { hostname, port } = connection.parsed
      return `${hostname}:${port === '' ? DEFAULT_PORT : port}`
    }
    case 'cluster': return `the Cluster of the seed nodes ${connection.nodes.map(nodeAddress).join(', ')}`
    default: {
      if (!isCluster(client)) return connectionAddress(client.options as RedisConnectionOptions)
      // A Cluster of yours: its seed nodes are not public; they are there in every ioredis version to date.
      const nodes = (client as unknown as { startupNodes?: unknown }).startupNodes
      return Array.isArray(nodes) ? `the Cluster of the seed nodes ${nodes.map(nodeAddress).join(', ')}` : 'a Cluster'
    }
  }
}

/** The credentials the client holds, which no message may repeat (a connection error could). */
function credentialsOf (client: IoRedisClient): string[] {
  const options = (isCluster(client) ? client.options.redisOptions ?? {} : client.options) as RedisConnectionOptions
  return [options.username, options.password, options.sentinelUsername, options.sentinelPassword]
    .filter((value): value is string => typeof value === 'string' && value !== '')
}

/** @internal */
export function describeError (error: unknown, credentials: string[]): string {
  const { message, lastNodeError } = error as { message?: unknown, lastNodeError?: { message?: unknown } }
  // A Cluster's "Failed to refresh slots cache." says why only in the last node's error.
  let text = String(message) + (lastNodeError === undefined ? '' : ` (${String(lastNodeError.message)})`)
  for (const credential of credentials) text = text.replaceAll(credential, '***')
  return text
}

/** @internal */
export interface ReadyWait {
  /** Resolves once the client is ready; rejects with the reason it is not (never its credentials). */
  done: Promise<void>
  /** Ends the wait at once (the store is closing), with this reason. */
  cancel (reason: string): void
}

/**
 * @internal
 * Waits for the client to be ready, at most `timeoutMs`: the reason it is not then names the last connection
 * error. Ends at once if the client ends (its reconnection gave up, or it was closed). An `unref` wait does not
 * keep the process alive.
 */
export function untilReady (
  client: IoRedisClient, { timeoutMs, unref }: { timeoutMs: number, unref: boolean }
): ReadyWait {
  const credentials = credentialsOf(client)
  let lastError: string | undefined
  let settle!: (reason?: string) => void
  const done = new Promise<void>((resolve, reject) => {
    const onError = (error: unknown): void => { lastError = describeError(error, credentials) }
    const onReady = (): void => { settle() }
    const onEnd = (): void => { settle('its connection ended') }
    const timer = setTimeout(() => { settle(`not ready within ${timeoutMs} ms`) }, timeoutMs)
    if (unref) timer.unref()
    settle = (reason) => {
      clearTimeout(timer)
      client.off('error', onError).off('ready', onReady).off('end', onEnd)
      if (reason === undefined) resolve()
      else reject(new Error(lastError === undefined ? reason : `${reason} (last error: ${lastError})`))
    }
    client.on('error', onError).once('ready', onReady).once('end', onEnd)
  })
  // A client made with lazyConnect connects on its first command: this wait is its first need.
  if (client.status === 'wait') client.connect().catch(() => {})
  return { done, cancel: (reason) => { settle(reason) } }
}
