/** A revocation marker as kept by the Redis index: a number that only grows, and its expiry. */
export interface Marker { value: number, expiresAt: number }

/** `<expiresAt> <value>`: how the index hash and the channel carry a marker. */
export function parseMarker (text: string): Marker | undefined {
  const space = text.indexOf(' ')
  const expiresAt = Number(text.slice(0, space))
  const value = Number(text.slice(space + 1))
  return space > 0 && Number.isFinite(expiresAt) && Number.isFinite(value) ? { expiresAt, value } : undefined
}

/**
 * A user invalidation on the channel: `invalidate <userId>`, the id last since
 * it may hold spaces. Its first word is no number, so readers of markers only
 * (earlier versions) ignore it.
 */
export const INVALIDATE = 'invalidate '

/** The field of a user's revocation marker: raising it revokes the user, so caches drop the user too. */
const USER_MARKER = 'usr:'

// With the u flag, a surrogate pair is one code point: this matches unpaired halves only.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

// Expired markers are dropped by lookups when met, and by a sweep at this pace.
const SWEEP_INTERVAL_MS = 60_000

/**
 * What the subscription uses of its connection (a Redis client of the store's). Described rather than imported,
 * so that the published declarations need no Redis client's types.
 */
export interface SubscriberConnection {
  readonly status: string
  on (event: 'message', listener: (channel: string, message: string) => void): unknown
  on (event: 'ready' | 'close', listener: () => void): unknown
  subscribe (channel: string): Promise<unknown>
  ping (): Promise<unknown>
  disconnect (): void
}

export interface SubscriptionSource {
  /** A connection of its own, used only to subscribe; the subscription closes it. */
  subscriber: SubscriberConnection
  channel: string
  /**
   * Every marker in Redis, `field -> '<expiresAt> <value>'` (the index hash),
   * to keep a local copy of the markers; without it (mirror off) the
   * subscription only carries user invalidations.
   */
  snapshot?: (() => Promise<Record<string, string>>) | undefined
  /** After this long without a sign of life from the subscription, it is no longer trusted. */
  staleAfterMs: number
  /** A user to drop from user caches; null after every resync (messages may have been missed). */
  onInvalidate?: ((userId: string | null) => void) | undefined
  /**
   * Writes markers back to Redis, each merged by max: at a resync, those the copy holds above the snapshot, which
   * Redis lost (a failover to a node that had not got them, a restart without persistence). Every one of them was
   * acknowledged by Redis once. Without it, a resync takes the snapshot as it is.
   */
  restore?: ((markers: Array<[string, Marker]>) => Promise<void>) | undefined
}

/**
 * The store's subscription to its channel, which carries every marker write
 * and every user invalidation. With a snapshot source it also keeps a local
 * copy of the revocation markers (the mirror), so `authenticate` checks
 * revocation without a round trip; the copy is rebuilt from the index after
 * every (re)connection.
 *
 * It is trusted only while subscribed, resynchronised since the last
 * connection, and heard from (a PING answered) within `staleAfterMs`.
 * Otherwise `lookup` says "don't know" (the store reads Redis, which fails
 * closed when Redis is gone) and `synced` is false (user caches are not used).
 *
 * Markers only grow, so merging is a max and the order in which the snapshot
 * and the messages arrive does not matter. A resync never forgets a marker the
 * copy holds and Redis lost: it writes it back first (`restore`), so that every
 * instance, and every read of Redis, agrees on it again.
 */
export class StoreSubscription {
  #entries = new Map<string, Marker>()
  /**
   * True while the subscription is trusted: nothing published on the channel can have been missed.
   * A field, not a getter (read on every request); only this class sets it.
   */
  synced = false
  /** True when a local copy of the markers is kept (a field: read on every request). */
  readonly copying: boolean
  /** Markers heard while a resync runs (merged into the new copy when it lands); undefined when none runs. */
  #pending: Array<[string, Marker]> | undefined
  /** Bumped on every (re)connection and loss of trust, so an outdated resync never lands. */
  #run = 0
  #lastSignOfLife = 0
  #lastSweep = Date.now()
  readonly #heartbeat: NodeJS.Timeout
  readonly #source: SubscriptionSource

  constructor (source: SubscriptionSource) {
    this.#source = source
    this.copying = source.snapshot !== undefined
    const { subscriber } = source
    // The connection subscribes to this one channel only.
    subscriber.on('message', (_channel: string, message: string) => { this.#hear(message) })
    subscriber.on('ready', () => { this.#resync() })
    subscriber.on('close', () => { this.#distrust() })
    // Four pings per staleness window: one late answer is not yet a loss of trust.
    this.#heartbeat = setInterval(() => this.#beat(), Math.max(10, Math.floor(source.staleAfterMs / 4))).unref()
  }

  get size (): number {
    return this.#entries.size
  }

  /** The marker's value, null when there is none, undefined when there is no trusted copy. */
  lookup (field: string): string | null | undefined {
    if (!this.synced || !this.copying) return undefined
    const marker = this.#entries.get(field)
    // A key with a lone surrogate reaches Redis as U+FFFD (UTF-8), so the copy
    // can never hold it: only Redis can answer for it.
    if (marker === undefined) return LONE_SURROGATE.test(field) ? undefined : null
    if (marker.expiresAt > Date.now()) return String(marker.value)
    this.#entries.delete(field)
    return null
  }

  /**
   * The copy's live marker, trusted or not: it may be behind Redis, never ahead of what Redis acknowledged, and it
   * keeps what Redis lost in a failover until a resync writes it back. Undefined when it has none.
   */
  held (field: string): number | undefined {
    const marker = this.#entries.get(field)
    return marker !== undefined && marker.expiresAt > Date.now() ? marker.value : undefined
  }

  /** Merges a marker (from the channel, or written by this instance: read-your-writes). */
  apply (field: string, marker: Marker): void {
    if (!this.copying) return
    this.#pending?.push([field, marker])
    merge(this.#entries, field, marker)
  }

  /**
   * The store's own connection reconnected (a failover it followed, say): what this instance wrote before may have
   * gone to a node that is no longer the master. A resync compares the copy (its own writes among them) with the
   * master now, and writes back what it lacks. Without a subscribed connection, its reconnection will resync.
   */
  recheck (): void {
    if (this.#source.subscriber.status === 'ready') this.#resync()
  }

  close (): void {
    clearInterval(this.#heartbeat)
    this.#distrust()
    this.#source.subscriber.disconnect()
  }

  #hear (message: string): void {
    if (message.startsWith(INVALIDATE)) {
      this.#invalidate(message.slice(INVALIDATE.length))
      return
    }
    // `<expiresAt> <value> <field>`: the field last, since a user id may hold spaces.
    const end = message.indexOf(' ', message.indexOf(' ') + 1)
    const marker = end === -1 ? undefined : parseMarker(message.slice(0, end))
    if (marker === undefined || end + 1 >= message.length) return
    const field = message.slice(end + 1)
    this.apply(field, marker)
    // A user revoked everywhere: drop the user from every cache as well.
    if (field.startsWith(USER_MARKER)) this.#invalidate(field.slice(USER_MARKER.length))
  }

  #invalidate (userId: string): void {
    // U+FFFD may stand for a lone surrogate that UTF-8 could not carry: the
    // id heard may not be the id meant, so every cached user goes.
    this.#source.onInvalidate?.(userId.includes('\uFFFD') ? null : userId)
  }

  #distrust (): void {
    this.synced = false
    this.#pending = undefined
    this.#run++
  }

  async #resync (): Promise<void> {
    this.#distrust()
    const run = this.#run
    const { subscriber, channel, snapshot } = this.#source
    try {
      this.#pending = []
      // Subscribed first, then the snapshot: every marker is in one or the other.
      await subscriber.subscribe(channel)
      const stored = snapshot === undefined ? undefined : await snapshot()
      if (run !== this.#run) return
      if (stored !== undefined) {
        const entries = await this.#rebuild(stored, run)
        if (entries === undefined) return
        this.#entries = entries
      }
      this.#pending = undefined
      this.#lastSignOfLife = Date.now()
      this.synced = true
      // Invalidations may have been missed while not subscribed: every cached user goes.
      this.#source.onInvalidate?.(null)
    } catch {
      // Redis failed mid-resync: stay untrusted; the heartbeat tries again.
      if (run === this.#run) this.#distrust()
    }
  }

  /**
   * The new copy: the snapshot, what was heard since, and what the old copy holds above both, written back to
   * Redis first (a failure leaves the old copy in place, and the resync to be tried again). Undefined when a newer
   * resync started meanwhile.
   */
  async #rebuild (stored: Record<string, string>, run: number): Promise<Map<string, Marker> | undefined> {
    const now = Date.now()
    const entries = new Map<string, Marker>()
    for (const field of Object.keys(stored)) {
      const marker = parseMarker(stored[field]!)
      if (marker !== undefined && marker.expiresAt > now) merge(entries, field, marker)
    }
    for (const [field, marker] of this.#pending!) merge(entries, field, marker)
    const { restore } = this.#source
    if (restore === undefined) return entries
    const lost = above(this.#entries, entries, now)
    if (lost.length === 0) return entries
    await restore(lost)
    if (run !== this.#run) return undefined
    for (const [field, marker] of lost) merge(entries, field, marker)
    // Heard while the markers were written back (their own publications among them).
    for (const [field, marker] of this.#pending!) merge(entries, field, marker)
    return entries
  }

  #beat (): void {
    const { subscriber, staleAfterMs } = this.#source
    const now = Date.now()
    if (this.synced && now - this.#lastSignOfLife > staleAfterMs) this.#distrust()
    if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) this.#sweep(now)
    if (subscriber.status !== 'ready') return
    const run = this.#run
    // Redis answers a PING after every message published before it: an answer
    // means the subscription had all of them when the PING was sent.
    subscriber.ping().then(() => {
      if (run === this.#run && this.synced) this.#lastSignOfLife = now
      // Heard from again after a loss of trust: rebuild, as after a reconnection.
      else if (!this.synced && this.#pending === undefined) this.#resync()
    }, () => {})
  }

  #sweep (now: number): void {
    this.#lastSweep = now
    for (const [field, marker] of this.#entries) {
      if (marker.expiresAt <= now) this.#entries.delete(field)
    }
  }
}

function merge (entries: Map<string, Marker>, field: string, marker: Marker): void {
  const known = entries.get(field)
  if (known === undefined) {
    entries.set(field, { value: marker.value, expiresAt: marker.expiresAt })
    return
  }
  known.value = Math.max(known.value, marker.value)
  known.expiresAt = Math.max(known.expiresAt, marker.expiresAt)
}

/** The live markers of `copy` that `stored` lacks, or holds with a lower value or an earlier expiry. */
function above (copy: Map<string, Marker>, stored: Map<string, Marker>, now: number): Array<[string, Marker]> {
  const lost: Array<[string, Marker]> = []
  for (const [field, marker] of copy) {
    if (marker.expiresAt <= now) continue
    const known = stored.get(field)
    if (known === undefined || known.value < marker.value || known.expiresAt < marker.expiresAt) {
      lost.push([field, { value: marker.value, expiresAt: marker.expiresAt }])
    }
  }
  return lost
}
