import type { Redis } from 'ioredis'

/** A revocation marker as kept by the Redis index: a number that only grows, and its expiry. */
export interface Marker { value: number, expiresAt: number }

/** `<expiresAt> <value>`: how the index hash and the channel carry a marker. */
export function parseMarker (text: string): Marker | undefined {
  const space = text.indexOf(' ')
  const expiresAt = Number(text.slice(0, space))
  const value = Number(text.slice(space + 1))
  return space > 0 && Number.isFinite(expiresAt) && Number.isFinite(value) ? { expiresAt, value } : undefined
}

// With the u flag, a surrogate pair is one code point: this matches unpaired halves only.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

// Expired markers are dropped by lookups when met, and by a sweep at this pace.
const SWEEP_INTERVAL_MS = 60_000

export interface MirrorSource {
  /** A connection of its own, used only to subscribe; the mirror closes it. */
  subscriber: Redis
  channel: string
  /** Every marker in Redis, `field -> '<expiresAt> <value>'` (the index hash). */
  snapshot: () => Promise<Record<string, string>>
  /** After this long without a sign of life from the subscription, the mirror stops answering. */
  staleAfterMs: number
}

/**
 * A local copy of the revocation markers, so `authenticate` checks revocation
 * without a round trip. Kept current by the channel every marker write
 * publishes to; rebuilt from the index after every (re)connection. It answers
 * only while it can be trusted: subscribed, resynchronised since the last
 * connection, and heard from (a PING answered) within `staleAfterMs`.
 * Otherwise `lookup` says "don't know" and the store reads Redis, which fails
 * closed (503) when Redis is gone.
 *
 * Markers only grow, so merging is a max and the order in which the snapshot
 * and the messages arrive does not matter.
 */
export class RevocationMirror {
  #entries = new Map<string, Marker>()
  #synced = false
  /** Markers heard while a resync runs; merged into the new copy when it lands. */
  #pending: Array<[string, Marker]> | undefined
  /** Bumped on every (re)connection and loss of trust, so an outdated resync never lands. */
  #run = 0
  #lastSignOfLife = 0
  #lastSweep = Date.now()
  readonly #heartbeat: NodeJS.Timeout
  readonly #source: MirrorSource

  constructor (source: MirrorSource) {
    this.#source = source
    const { subscriber } = source
    // The connection subscribes to this one channel only.
    // `<expiresAt> <value> <field>`: the field last, since a user id may hold spaces.
    subscriber.on('message', (_channel: string, message: string) => {
      const end = message.indexOf(' ', message.indexOf(' ') + 1)
      const marker = end === -1 ? undefined : parseMarker(message.slice(0, end))
      if (marker !== undefined && end + 1 < message.length) this.apply(message.slice(end + 1), marker)
    })
    subscriber.on('ready', () => { this.#resync() })
    subscriber.on('close', () => { this.#distrust() })
    // Four pings per staleness window: one late answer is not yet a loss of trust.
    this.#heartbeat = setInterval(() => this.#beat(), Math.max(10, Math.floor(source.staleAfterMs / 4))).unref()
  }

  /** True while the mirror answers for Redis. */
  get synced (): boolean {
    return this.#synced
  }

  get size (): number {
    return this.#entries.size
  }

  /** The marker's value, null when there is none, undefined when the mirror cannot be trusted. */
  lookup (field: string): string | null | undefined {
    if (!this.#synced) return undefined
    const marker = this.#entries.get(field)
    // A key with a lone surrogate reaches Redis as U+FFFD (UTF-8), so the copy
    // can never hold it: only Redis can answer for it.
    if (marker === undefined) return LONE_SURROGATE.test(field) ? undefined : null
    if (marker.expiresAt > Date.now()) return String(marker.value)
    this.#entries.delete(field)
    return null
  }

  /** Merges a marker (from the channel, or written by this instance: read-your-writes). */
  apply (field: string, marker: Marker): void {
    this.#pending?.push([field, marker])
    merge(this.#entries, field, marker)
  }

  close (): void {
    clearInterval(this.#heartbeat)
    this.#distrust()
    this.#source.subscriber.disconnect()
  }

  #distrust (): void {
    this.#synced = false
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
      const stored = await snapshot()
      if (run !== this.#run) return
      const now = Date.now()
      const entries = new Map<string, Marker>()
      for (const field of Object.keys(stored)) {
        const marker = parseMarker(stored[field]!)
        if (marker !== undefined && marker.expiresAt > now) merge(entries, field, marker)
      }
      for (const [field, marker] of this.#pending) merge(entries, field, marker)
      this.#entries = entries
      this.#pending = undefined
      this.#lastSignOfLife = now
      this.#synced = true
    } catch {
      // Redis failed mid-resync: stay untrusted; the heartbeat tries again.
      if (run === this.#run) this.#distrust()
    }
  }

  #beat (): void {
    const { subscriber, staleAfterMs } = this.#source
    const now = Date.now()
    if (this.#synced && now - this.#lastSignOfLife > staleAfterMs) this.#distrust()
    if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) this.#sweep(now)
    if (subscriber.status !== 'ready') return
    const run = this.#run
    // Redis answers a PING after every message published before it: an answer
    // means the mirror had all of them when the PING was sent.
    subscriber.ping().then(() => {
      if (run === this.#run && this.#synced) this.#lastSignOfLife = now
      // Heard from again after a loss of trust: rebuild, as after a reconnection.
      else if (!this.#synced && this.#pending === undefined) this.#resync()
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
