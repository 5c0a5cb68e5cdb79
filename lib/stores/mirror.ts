/** A revocation marker as kept by the Redis index: a number that only grows, and its expiry. */
export interface Marker { value: number, expiresAt: number }

/**
 * A marker in the copy, with the last resync run that saw Redis hold it (or more; 0: none yet): those a resync did
 * not see, Redis lost.
 */
interface CopiedMarker extends Marker { seen: number }

/** The Redis index, as the mirror reads and repairs it. */
export interface MarkerSource {
  /**
   * Reads every marker into `into`, in chunks of `[field, '<expiresAt> <value>', ...]`, and stops when `into`
   * answers false (the resync is outdated). In chunks, so that a resync holds little of the index at once beside
   * the copy.
   */
  snapshot (into: (chunk: string[]) => boolean): Promise<void>
  /**
   * Writes markers back, each merged by max: at a resync, those the copy holds above the snapshot, which Redis
   * lost (a failover to a node that had not got them, a restart without persistence). Redis acknowledged each once.
   */
  restore (markers: Array<[string, Marker]>): Promise<void>
}

/** `<expiresAt> <value>`: how the index hash and the channel carry a marker. */
export function parseMarker (text: string): Marker | undefined {
  const space = text.indexOf(' ')
  const expiresAt = Number(text.slice(0, space))
  const value = Number(text.slice(space + 1))
  // Whole numbers only, as the store writes them: anything else could not be written back (Lua's %d).
  return space > 0 && Number.isSafeInteger(expiresAt) && Number.isSafeInteger(value) ? { expiresAt, value } : undefined
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
const LONE_SURROGATES = /[\uD800-\uDFFF]/gu

// Expired markers are dropped by lookups when met, and by a sweep at this pace.
const SWEEP_INTERVAL_MS = 60_000
// A failed resync is tried again after staleAfter, doubled at each failure in a row up to this.
const MAX_RETRY_DELAY_MS = 5000

// Resync runs are numbered across subscriptions: a copy handed to a new subscription keeps its meaning.
let runs = 0

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
   * Where the local copy of the markers comes from and goes back to; without it (mirror off) the subscription
   * only carries user invalidations.
   */
  copy?: MarkerSource | undefined
  /** After this long without a sign of life from the subscription, it is no longer trusted. */
  staleAfterMs: number
  /** A user to drop from user caches; null after every resync (messages may have been missed). */
  onInvalidate?: ((userId: string | null) => void) | undefined
  /** The subscription this one replaces (its connection ended for good): its copy goes on here. */
  replaces?: StoreSubscription | undefined
}

/**
 * The store's subscription to its channel, which carries every marker write
 * and every user invalidation. With a `copy` source it also keeps a local
 * copy of the revocation markers (the mirror), so `authenticate` checks
 * revocation without a round trip; the copy is brought up to the index after
 * every (re)connection.
 *
 * It is trusted only while subscribed, resynchronised since the last
 * connection, and heard from (a PING answered) within `staleAfterMs`.
 * Otherwise `lookup` says "don't know" (the store reads Redis, which fails
 * closed when Redis is gone) and `synced` is false (user caches are not used).
 *
 * Markers only grow, so merging is a max and the order in which the snapshot
 * and the messages arrive does not matter. A resync never forgets a marker the
 * copy holds and Redis lost: it writes it back first (`copy.restore`), so that every
 * instance, and every read of Redis, agrees on it again.
 */
export class StoreSubscription {
  #entries = new Map<string, CopiedMarker>()
  /**
   * True while the subscription is trusted: nothing published on the channel can have been missed.
   * A field, not a getter (read on every request); only this class sets it.
   */
  synced = false
  /** True when a local copy of the markers is kept (a field: read on every request). */
  readonly copying: boolean
  /** A resync is running: the heartbeat does not start another. */
  #resyncing = false
  /** Renumbered on every (re)connection and loss of trust, so an outdated resync never lands. */
  #run = ++runs
  /** What the last write-back attempted, in case it failed (with replicas, the master may hold it unreplicated). */
  #unrestored = new Map<string, Marker>()
  #failures = 0
  #retryAt = 0
  #lastSignOfLife = 0
  #lastSweep = Date.now()
  readonly #heartbeat: NodeJS.Timeout
  readonly #source: SubscriptionSource

  constructor (source: SubscriptionSource) {
    this.#source = source
    this.copying = source.copy !== undefined
    const { subscriber, replaces } = source
    if (replaces !== undefined) {
      this.#entries = replaces.#entries
      this.#unrestored = replaces.#unrestored
    }
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
    // Redis (and so the channel and the copy) spells a lone surrogate as U+FFFD.
    const marker = this.#entries.get(LONE_SURROGATE.test(field) ? field.replace(LONE_SURROGATES, '\uFFFD') : field)
    return marker !== undefined && marker.expiresAt > Date.now() ? marker.value : undefined
  }

  /**
   * Merges a marker written by this instance (read-your-writes). The node that took it may be a master that is gone:
   * only the channel or a snapshot says that the master holds it.
   */
  apply (field: string, marker: Marker): void {
    this.#merge(field, marker, undefined)
  }

  /**
   * The store's own connection reconnected (a failover it followed, say): what this instance wrote before may have
   * gone to a node that is no longer the master. A resync compares the copy (its own writes among them) with the
   * master now, and writes back what it lacks. Without a subscribed connection, its reconnection will resync.
   */
  recheck (): void {
    // An empty copy has nothing to write back, unless a resync is reading: its cursor means nothing on another node.
    if ((this.#entries.size > 0 || this.#resyncing) && this.#source.subscriber.status === 'ready') this.#resync()
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
    this.#merge(field, marker, this.#run)
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
    this.#resyncing = false
    this.#run = ++runs
  }

  async #resync (): Promise<void> {
    this.#distrust()
    const run = this.#run
    const { subscriber, channel, copy } = this.#source
    this.#resyncing = true
    try {
      // Subscribed first, then the snapshot: every marker is in one or the other.
      await subscriber.subscribe(channel)
      if (copy !== undefined) await this.#reconcile(copy, run)
      if (run !== this.#run) return
      this.#resyncing = false
      this.#failures = 0
      this.#lastSignOfLife = Date.now()
      this.synced = true
      // Invalidations may have been missed while not subscribed: every cached user goes.
      this.#source.onInvalidate?.(null)
    } catch {
      // Redis failed mid-resync (or refused the write-back): stay untrusted; the heartbeat tries again, later each
      // time, since each try reads the whole index.
      if (run !== this.#run) return
      this.#distrust()
      this.#failures++
      this.#retryAt = Date.now() + Math.min(MAX_RETRY_DELAY_MS, this.#source.staleAfterMs * 2 ** (this.#failures - 1))
    }
  }

  /**
   * Brings the copy up to the snapshot, in place (markers only grow: a merge), then writes back to Redis what the
   * copy holds above it: markers it lacks, or holds lower or for less long. Those heard during this resync are
   * Redis's own and need nothing; those expired go.
   */
  async #reconcile (copy: MarkerSource, run: number): Promise<void> {
    await copy.snapshot((chunk) => run === this.#run && this.#absorb(chunk, run))
    if (run !== this.#run) return
    const now = Date.now()
    // Written back again, even if the master now holds them: with replicas, only a write-back that succeeds says
    // they are replicated.
    const lost = new Map([...this.#unrestored].filter(([, marker]) => marker.expiresAt > now))
    for (const [field, marker] of this.#entries) {
      if (marker.seen === run) continue
      if (marker.expiresAt > now) lost.set(field, { value: marker.value, expiresAt: marker.expiresAt })
      else this.#entries.delete(field)
    }
    if (lost.size === 0) return
    this.#unrestored = lost
    await copy.restore([...lost])
    if (run === this.#run) this.#unrestored = new Map()
  }

  /** Merges a snapshot's chunk into the copy. */
  #absorb (chunk: string[], run: number): true {
    const now = Date.now()
    for (let i = 0; i + 1 < chunk.length; i += 2) {
      const stored = parseMarker(chunk[i + 1]!)
      if (stored !== undefined && stored.expiresAt > now) this.#merge(chunk[i]!, stored, run)
    }
    return true
  }

  /**
   * Merges a marker into the copy by max. `run`: the resync run in which Redis was seen holding it (a snapshot, the
   * channel), which counts only if it is as high as the copy's, in value and expiry; undefined: not seen.
   */
  #merge (field: string, marker: Marker, run: number | undefined): void {
    // A key with a lone surrogate reaches Redis as U+FFFD (UTF-8): the copy never holds one (see lookup).
    if (!this.copying || LONE_SURROGATE.test(field)) return
    const known = this.#entries.get(field)
    // An expired marker not swept yet is none: its value must not come back with a new expiry.
    if (known === undefined || known.expiresAt <= Date.now()) {
      this.#entries.set(field, { value: marker.value, expiresAt: marker.expiresAt, seen: run ?? 0 })
      return
    }
    if (run !== undefined && marker.value >= known.value && marker.expiresAt >= known.expiresAt) known.seen = run
    known.value = Math.max(known.value, marker.value)
    known.expiresAt = Math.max(known.expiresAt, marker.expiresAt)
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
      else if (!this.synced && !this.#resyncing && Date.now() >= this.#retryAt) this.#resync()
    }, () => {})
  }

  #sweep (now: number): void {
    this.#lastSweep = now
    for (const [field, marker] of this.#entries) {
      if (marker.expiresAt <= now) this.#entries.delete(field)
    }
  }
}
