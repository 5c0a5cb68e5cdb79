// The Redis store's durable security writes (revocations and rotations), acknowledged only once `replicas`
// replicas have them when the store is told so: each such write is sent with a WAIT behind it, in one pipeline,
// so that the WAIT reaches the master that took the write (on a Cluster, the master of the write's slot). A WAIT
// holds its connection until the replicas answer: these writes have a connection of their own, so that the
// store's other commands never queue behind one.
// Internal (stripInternal): the published declarations must not name ioredis (see redis-options.ts).
import { closeConnection, isCluster, type IoRedisClient } from './redis-connection.js'
import type { RedisStoreSettings } from './redis-options.js'

type Command = (...args: unknown[]) => unknown
type Batch = Record<string, Command> & { exec (): Promise<Array<[Error | null, unknown]> | null> }

/**
 * @internal
 * A write the master took but too few replicas acknowledged within the timeout: `reply` is what the master answered
 * (a store may undo what the write did, as the challenges' take does).
 */
export class UnreplicatedWriteError extends Error {
  constructor (message: string, readonly reply: unknown) {
    super(message)
  }
}

/**
 * @internal
 * Runs the client's command `name` (a script the store defined, say) and resolves to its reply; with
 * `replication`, only once as many replicas as asked have it: fewer within the timeout (a master that lost its
 * replicas, or was demoted under the client: a promoted replica no longer follows it) rejects, and the store's
 * guard answers 503. The write may still be on the master then: a rejection says only that it is not known safe.
 * Those writes go through `writer` (a duplicate of the client, opened at the first of them, closed with the store:
 * `prepare` gives it the store's scripts and its failover behaviour).
 */
export function replicatedWrites (
  client: IoRedisClient, replication: RedisStoreSettings['replication'], prepare: (writer: IoRedisClient) => void
) {
  const commands = client as unknown as Record<string, Command>
  let writer: IoRedisClient | undefined
  let closed = false

  function writerOf (): IoRedisClient {
    // Closed: nothing is opened again; the write goes where it went before (and fails as the client does).
    if (closed) return client
    if (writer === undefined) {
      writer = isCluster(client) ? client.duplicate() : client.duplicate()
      prepare(writer)
    }
    return writer
  }

  async function durable<T> (name: string, ...args: unknown[]): Promise<T> {
    if (replication === null) return await (commands[name]!.apply(client, args) as Promise<T>)
    const { replicas, timeoutMs } = replication
    const batch = writerOf().pipeline() as unknown as Batch
    batch[name]!.apply(batch, args)
    batch.wait!(replicas, timeoutMs)
    // exec gives null only for a transaction that was discarded: never for a pipeline.
    const replies = (await batch.exec())! as [[Error | null, T], [Error | null, number]]
    // The write's error first (NOREPLICAS from a master with min-replicas-to-write, say), then the WAIT's.
    for (const [error] of replies) if (error !== null) throw error
    const [[, reply], [, acknowledged]] = replies
    if (acknowledged < replicas) {
      throw new UnreplicatedWriteError(`redisStore: the write reached ${acknowledged} of ${replicas} replicas ` +
        `within ${timeoutMs} ms (replicas, replicaTimeout)`, reply)
    }
    return reply
  }

  return {
    durable,
    async close (): Promise<void> {
      closed = true
      if (writer !== undefined) await closeConnection(writer)
    }
  }
}

/** @internal */
export type ReplicatedWrites = ReturnType<typeof replicatedWrites>
