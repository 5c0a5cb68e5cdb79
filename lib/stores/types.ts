// The store contract, in the domain's words. A store is a handful of small
// ports; the plugin validates and guards them once, at register
// (stores/resolve.ts), and never probes for a method at use.
//
// Two kinds of entries, so that a flood can never crowd out security state:
// - durable: revocation markers, refresh tokens, the session index, locks.
//   Never evicted. Markers, rotations and removals always find room; only new
//   sessions and new locks may be refused (503) when a bounded store is full.
// - ephemeral: challenges (captchas, one-time tokens) and counters: what an
//   unauthenticated client can create at will. Bounded apart from durable
//   entries (each kind apart from the other), evicted oldest first under
//   pressure. (A lock, durable, takes several failed logins on one name.)

/** What a revocation marker is about: a login family (one session) or a user (every session). */
export type RevocationScope = 'family' | 'user'

/**
 * Revocation markers: integers that only grow. A family marker means the
 * family is revoked; a user marker is the user's revocation epoch (tokens
 * carrying an older epoch are revoked). Durable.
 */
export interface Revocations {
  /**
   * Atomically sets the marker to max(current + 1, floor) and returns it; the
   * marker lives at least `ttlSeconds` from now (never shortened). Always finds room.
   */
  raise (scope: RevocationScope, id: string, floor: number, ttlSeconds: number): Promise<number>
  /** The marker's value, or null when there is none (or it expired). */
  read (scope: RevocationScope, id: string): Promise<string | null>
  /**
   * Optional: the same answer synchronously, from a local copy that is known
   * to be current; undefined when the copy cannot answer (then `read` is used).
   * This is what lets `authenticate` check revocation without a round trip.
   */
  peek? (scope: RevocationScope, id: string): string | null | undefined
}

/**
 * A refresh token as the store knows it: live until rotated, then spent (with its successor) for the grace window.
 * `absent` (optional; `null` says the same): no record, with the family's `generation` read in the same atomic step.
 * A store whose reads can be answered by different nodes (a Redis Cluster or Sentinel during a failover, where one
 * node may have lost what another holds) answers so: the record and the generation must come from one node at one
 * moment, or a record one node lost looks spent behind a generation another node holds (a false reuse).
 */
export type RefreshState =
  | { state: 'live', record: string }
  | { state: 'spent', successor: string }
  | { state: 'absent', generation: number }

export interface Rotation {
  family: string
  /** The refresh token (jti) being spent. */
  jti: string
  /** The token this one succeeded, if any: its grace ends with this rotation. */
  parent?: string | undefined
  /** The successor's id and record, stored live for `ttlSeconds`. */
  next: { jti: string, record: string }
  /** What the spent token keeps for `graceSeconds`: the successor, to hand out again (never a token string). */
  successor: string
  ttlSeconds: number
  /** 0: the spent token is forgotten at once (strict rotation). */
  graceSeconds: number
  /**
   * The successor's place in its family: 1 for the first rotation, one more at each. With the rotation, the
   * store keeps the family's highest (this one or a higher one it has) for `ttlSeconds` from now: every rotation
   * renews it, a lower one too, so it outlives the family's newest token (see `RefreshTokens.generation`).
   */
  generation: number
}

/** Live refresh tokens, by family and token id (`jti`). Values are opaque strings. Durable. */
export interface RefreshTokens {
  /** Stores the first refresh token of a new login. May be refused (503) by a full bounded store. */
  create (family: string, jti: string, record: string, ttlSeconds: number): Promise<void>
  /**
   * The token's state; null (or `absent`) when unknown: never stored, expired, discarded, or spent longer ago than
   * its grace.
   */
  find (family: string, jti: string): Promise<RefreshState | null>
  /**
   * Spends a live token and stores its successor, atomically: of concurrent
   * rotations of one token exactly one sees `live`. Returns the token's state
   * before the call (null or `absent` when unknown); only on `live` did this call
   * write anything. Always finds room (it replaces a token).
   */
  rotate (rotation: Rotation): Promise<RefreshState | null>
  /** Forgets a token, live or spent (logout). */
  discard (family: string, jti: string): Promise<void>
  /**
   * Optional: the highest `generation` a rotation of the family wrote (0 when none did, or it expired). It
   * tells a spent token from a lost one: a token without a record behind this generation was spent (a reuse);
   * at or past it, its record was lost (a write the store dropped, in a failover say), which is no proof of
   * theft. Without it, a token without a record is taken for a reuse.
   */
  generation? (family: string): Promise<number>
}

/** The per-user index of live login sessions (refresh families), for `sessions()`. Durable. */
export interface SessionIndex {
  /** Adds or updates one session of the user; the index lives at least `ttlSeconds` from now. Always finds room. */
  put (userId: string, family: string, session: string, ttlSeconds: number): Promise<void>
  /** Every session of the user, `family -> session`. */
  list (userId: string): Promise<Record<string, string>>
  remove (userId: string, family: string): Promise<void>
  /** Forgets every session of the user (revokeAll). */
  clear (userId: string): Promise<void>
}

/** Counters with a window (failed logins). Ephemeral: a full store evicts the oldest. */
export interface Counters {
  /** Atomically adds 1 and returns the new count: the first increment returns 1 and starts a window of `ttlSeconds`. */
  increment (name: string, ttlSeconds: number): Promise<number>
  reset (name: string): Promise<void>
}

/** Account locks (lockout). Durable: never evicted; a full bounded store refuses a new one (503). */
export interface Locks {
  /** Locks `name` until `until` (ms since the epoch); the lock lives `ttlSeconds`. */
  lock (name: string, until: number, ttlSeconds: number): Promise<void>
  /** When the lock on `name` ends (ms), or null when it is not locked. */
  lockedUntil (name: string): Promise<number | null>
}

/** One-time values: captcha answers, hashes of reset and verification tokens. Ephemeral. */
export interface Challenges {
  /** Stores a value under a fresh id; never refused: a full store evicts its oldest ephemeral entries. */
  put (id: string, value: string, ttlSeconds: number): Promise<void>
  /** Returns and forgets the value, atomically: of concurrent takes only one sees it. Null when unknown. */
  take (id: string): Promise<string | null>
}

/** A user invalidation heard by this instance: a user id, or null for "drop every cached user". */
export type UserInvalidationListener = (userId: string | null) => void

/** Tells every instance sharing the store to drop a user from its user cache. */
export interface UserInvalidations {
  /** Resolves once every instance listening will hear it (published); this instance hears it at once. */
  publish (userId: string): Promise<void>
  /** The user cache's listener. A store calls it with null after it may have missed messages (a resync). */
  listen (listener: UserInvalidationListener): void
  /**
   * False while invalidations from other instances may be missed (the
   * subscription is down): the user cache is not used then.
   */
  readonly live: boolean
}

/** What a store is given at register. */
export interface StoreContext {
  /** The app's logger (warnings about the store's set-up, for example a Redis that evicts keys). */
  log: { warn (object: object, message: string): void, info (object: object, message: string): void }
}

/** Where the plugin keeps its server-side state. `memoryStore()` and `redisStore()` implement it. */
export interface AuthStore {
  revocations: Revocations
  refreshTokens: RefreshTokens
  sessions: SessionIndex
  counters: Counters
  locks: Locks
  challenges: Challenges
  /** Optional: without it, `invalidateUser` reaches this instance only. */
  userInvalidations?: UserInvalidations
  /**
   * Optional: called once when the store is registered on an app, last. It may return a promise, which the
   * plugin awaits before register resolves: a store can wait there for its backend (a Redis store waits for its
   * first connection). The plugin sets no time limit of its own: the store bounds the wait, well under Fastify's
   * `pluginTimeout` (10 s by default), past which Fastify fails register without naming the cause. When attach
   * throws or rejects, register fails with that error and `detach` is not called for that app: a store releases
   * then what it holds for it (a Redis store closes the connections it opened, unless another app uses them).
   */
  attach? (context: StoreContext): void | Promise<void>
  /**
   * Optional: called when an app the store was attached to closes. A store
   * that opened connections closes them once the last of its apps is gone
   * (nothing of it may keep the process alive then), unless told otherwise.
   */
  detach? (): Promise<void>
  close? (): Promise<void>
}

/**
 * The key-value store shape of earlier versions, still accepted: the plugin
 * builds the ports above on it (stores/key-value.ts). Without the optional
 * atomic methods, counters and markers are read then written, and a refresh
 * at the very moment of another one may be taken for a reuse.
 */
export interface KeyValueStore {
  /** `kind` says whether the entry may be evicted under pressure (ephemeral) or never (durable). */
  set (key: string, value: string, ttlSeconds: number, kind?: 'durable' | 'ephemeral'): Promise<void>
  get (key: string): Promise<string | null>
  /** Atomic get-and-delete: of concurrent takes of one key, only one sees the value. */
  take (key: string): Promise<string | null>
  delete (key: string): Promise<void>
  /** Atomic counter: adds 1 (a missing key starts at 0, with `ttlSeconds`) and returns the new value. */
  increment? (key: string, ttlSeconds: number): Promise<number>
  /** Atomically stores max(current + 1, floor), with a TTL of at least `ttlSeconds`, and returns it. */
  advance? (key: string, floor: number, ttlSeconds: number): Promise<number>
  hset? (key: string, field: string, value: string, ttlSeconds: number): Promise<void>
  hgetall? (key: string): Promise<Record<string, string>>
  hdel? (key: string, field: string): Promise<void>
  close? (): Promise<void>
}
