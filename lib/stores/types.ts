/**
 * Revocation markers: `fam:<family>` (a revoked login family) and `usr:<user>`
 * (the user's revocation epoch). Their values are numbers that only grow; they
 * are written rarely and read on every request, so a store may keep a local
 * copy of them to answer `peek`.
 */
export const isMarkerKey = (key: string): boolean => key.charCodeAt(3) === 58 /* ':' */ && (key.startsWith('fam') || key.startsWith('usr'))

/**
 * Where the plugin keeps server-side state: live refresh tokens, revoked
 * families and per-user revocation epochs. Any object of this shape is a store.
 * Values are opaque strings; every key is written with a TTL.
 */
export interface AuthStore {
  set (key: string, value: string, ttlSeconds: number): Promise<void>
  get (key: string): Promise<string | null>
  /** Atomic get-and-delete: of concurrent takes of one key, only one sees the value. */
  take (key: string): Promise<string | null>
  delete (key: string): Promise<void>
  /**
   * Atomic counter: adds 1 to the integer at `key` (0 when missing) and returns
   * the new value; the TTL is set when the key is created. Optional: without
   * it, counters fall back to get-then-set, which can undercount under races.
   */
  increment? (key: string, ttlSeconds: number): Promise<number>
  /**
   * A field of the hash at `key` (the per-user session index); the key lives
   * at least `ttlSeconds` from now. Optional, with hgetall and hdel: without
   * them, `sessions()` is not available.
   */
  hset? (key: string, field: string, value: string, ttlSeconds: number): Promise<void>
  hgetall? (key: string): Promise<Record<string, string>>
  hdel? (key: string, field: string): Promise<void>
  /**
   * For marker keys: atomically stores max(current + 1, floor) with a TTL of at
   * least `ttlSeconds` (never shortened) and returns it. Optional: without it
   * the plugin reads then writes, which two concurrent revocations can race.
   */
  advance? (key: string, floor: number, ttlSeconds: number): Promise<number>
  /**
   * A synchronous read that needs no I/O: the value, null when the key is
   * absent, or undefined when the store cannot answer locally (then `get` is
   * used). Lets `authenticate` check revocation without a round trip.
   */
  peek? (key: string): string | null | undefined
  close? (): Promise<void>
}
