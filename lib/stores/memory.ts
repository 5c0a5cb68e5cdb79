import { checkKeys } from '../config/check.js'
import { InvalidOptionError, StoreFullError } from '../errors.js'
import { toRefreshState } from './refresh-state.js'
import type {
  AuthStore, Challenges, Counters, Locks, RefreshTokens, Revocations, RevocationScope, Rotation,
  SessionIndex, UserInvalidationListener, UserInvalidations
} from './types.js'

export interface MemoryStoreOptions {
  /**
   * Durable entries (refresh tokens, revocation markers, session indexes, locks) kept at most; default 1,000,000.
   * They are never evicted: when full, a new login or lock is refused (503). Revocations and rotations always fit.
   */
  maxEntries?: number
  /**
   * Ephemeral entries kept at most, for each kind apart (challenges such as captchas; failed-login counters); the
   * oldest go first. Default 100,000.
   */
  maxEphemeralEntries?: number
  /** Seconds between sweeps of expired entries (default 60). */
  sweepInterval?: number
}

interface Entry {
  value: string
  expiresAt: number
  /** The fields of a session index. */
  fields?: Map<string, string>
}

const KNOWN_OPTIONS = ['maxEntries', 'maxEphemeralEntries', 'sweepInterval']

function fail (message: string): never {
  throw new InvalidOptionError(`memoryStore: ${message}`)
}

function positiveInteger (value: unknown, name: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    fail(`${name} must be a positive integer (got ${String(value)})`)
  }
  return value as number
}

function expiresAt (ttlSeconds: number): number {
  if (!(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) {
    throw new TypeError(`memoryStore: ttlSeconds must be a positive number (got ${String(ttlSeconds)})`)
  }
  return Date.now() + ttlSeconds * 1000
}

/** A map of entries that expire: read through `live`, swept in bulk. */
class ExpiringMap {
  readonly entries = new Map<string, Entry>()

  live (key: string): Entry | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt > Date.now()) return entry
    this.entries.delete(key)
    return undefined
  }

  sweep (now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= now) this.entries.delete(key)
    }
  }
}

/**
 * A bounded in-process store for one instance, with the two kinds of entries
 * kept apart: an unauthenticated flood fills (and recycles) the ephemeral
 * space, never the durable one. Durable entries are never evicted: dropping a
 * revocation marker would let a revoked token through. Each operation runs
 * without an await between its read and its write, so each is atomic.
 */
class MemoryStore implements AuthStore {
  readonly #durable = new ExpiringMap()
  // Each kind of ephemeral entry apart, so that a captcha flood never evicts a counter in use.
  // Insertion order is age: the first key is the oldest, evicted first.
  readonly #challenges = new ExpiringMap()
  readonly #counters = new ExpiringMap()
  readonly #maxEntries: number
  readonly #maxEphemeral: number
  readonly #sweepTimer: NodeJS.Timeout
  readonly #listeners: UserInvalidationListener[] = []
  #lastFullSweep = 0

  constructor (options: MemoryStoreOptions) {
    if (options === null || typeof options !== 'object') fail('options must be an object')
    checkKeys(options, KNOWN_OPTIONS, '', fail)
    const { maxEntries = 1_000_000, maxEphemeralEntries = 100_000, sweepInterval = 60 } = options
    this.#maxEntries = positiveInteger(maxEntries, 'maxEntries')
    this.#maxEphemeral = positiveInteger(maxEphemeralEntries, 'maxEphemeralEntries')
    if (typeof sweepInterval !== 'number' || !(sweepInterval > 0)) {
      fail(`sweepInterval must be a positive number of seconds (got ${String(sweepInterval)})`)
    }
    this.#sweepTimer = setInterval(() => this.sweep(), sweepInterval * 1000).unref()
  }

  /** Live durable entries (expired ones may be counted until swept). */
  get size (): number {
    return this.#durable.entries.size
  }

  /** Ephemeral entries held (challenges and counters). */
  get ephemeralSize (): number {
    return this.#challenges.entries.size + this.#counters.entries.size
  }

  readonly revocations: Revocations = {
    raise: async (scope, id, floor, ttlSeconds) => {
      const key = markerKey(scope, id)
      const entry = this.#durable.live(key)
      const value = entry === undefined ? floor : Math.max(floor, Number(entry.value) + 1)
      this.#durable.entries.set(key, {
        value: String(value),
        expiresAt: Math.max(entry?.expiresAt ?? 0, expiresAt(ttlSeconds))
      })
      return value
    },
    read: async (scope, id) => this.#durable.live(markerKey(scope, id))?.value ?? null,
    // Everything is local here: always answers.
    peek: (scope, id) => this.#durable.live(markerKey(scope, id))?.value ?? null
  }

  readonly refreshTokens: RefreshTokens = {
    create: async (family, jti, record, ttlSeconds) => {
      const key = refreshKey(family, jti)
      const until = expiresAt(ttlSeconds)
      // Written in place over a reservation: only a new entry needs room.
      if (!this.#durable.entries.has(key)) this.#makeDurableRoom()
      this.#durable.entries.set(key, { value: `L${record}`, expiresAt: until })
    },
    find: async (family, jti) => toRefreshState(this.#durable.live(refreshKey(family, jti))?.value),
    rotate: async (rotation: Rotation) => {
      const { family, jti, parent, next, successor, ttlSeconds, graceSeconds, generation } = rotation
      const key = refreshKey(family, jti)
      const state = toRefreshState(this.#durable.live(key)?.value)
      if (state?.state !== 'live') return state
      // A rotation replaces a token: it needs no room of its own (nor its family's generation, one per family).
      this.#durable.entries.set(refreshKey(family, next.jti), {
        value: `L${next.record}`,
        expiresAt: expiresAt(ttlSeconds)
      })
      const known = Number(this.#durable.live(generationKey(family))?.value ?? 0)
      this.#durable.entries.set(generationKey(family), {
        value: String(Math.max(known, generation)),
        expiresAt: expiresAt(ttlSeconds)
      })
      if (graceSeconds > 0) {
        this.#durable.entries.set(key, { value: `S${successor}`, expiresAt: expiresAt(graceSeconds) })
      } else {
        this.#durable.entries.delete(key)
      }
      if (parent !== undefined) {
        const parentKey = refreshKey(family, parent)
        if (this.#durable.entries.get(parentKey)?.value.startsWith('S') === true) {
          this.#durable.entries.delete(parentKey)
        }
      }
      return state
    },
    discard: async (family, jti) => { this.#durable.entries.delete(refreshKey(family, jti)) },
    generation: async (family) => Number(this.#durable.live(generationKey(family))?.value ?? 0)
  }

  readonly sessions: SessionIndex = {
    put: async (userId, family, session, ttlSeconds) => {
      const key = `ses:${userId}`
      const entry = this.#durable.live(key)
      const until = Math.max(entry?.expiresAt ?? 0, expiresAt(ttlSeconds))
      const fields = entry?.fields ?? new Map<string, string>()
      fields.set(family, session)
      this.#durable.entries.set(key, { value: '', expiresAt: until, fields })
    },
    list: async (userId) => {
      const fields = this.#durable.live(`ses:${userId}`)?.fields
      return fields === undefined ? {} : Object.fromEntries(fields)
    },
    remove: async (userId, family) => {
      const entry = this.#durable.live(`ses:${userId}`)
      if (entry?.fields === undefined) return
      entry.fields.delete(family)
      if (entry.fields.size === 0) this.#durable.entries.delete(`ses:${userId}`)
    },
    clear: async (userId) => { this.#durable.entries.delete(`ses:${userId}`) }
  }

  readonly locks: Locks = {
    lock: async (name, until, ttlSeconds) => {
      const key = `lk:${name}`
      const expiry = expiresAt(ttlSeconds)
      if (!this.#durable.entries.has(key)) this.#makeDurableRoom()
      this.#durable.entries.set(key, { value: String(until), expiresAt: expiry })
    },
    lockedUntil: async (name) => {
      const value = this.#durable.live(`lk:${name}`)?.value
      return value === undefined ? null : Number(value)
    }
  }

  readonly counters: Counters = {
    increment: async (name, ttlSeconds) => {
      const entry = this.#counters.live(name)
      const count = entry === undefined ? 1 : Number(entry.value) + 1
      // Re-inserted, so a counter in use is the last to be evicted; it keeps the expiry of its window.
      this.#counters.entries.delete(name)
      this.#putEphemeral(this.#counters, name, {
        value: String(count),
        expiresAt: entry?.expiresAt ?? expiresAt(ttlSeconds)
      })
      return count
    },
    reset: async (name) => { this.#counters.entries.delete(name) }
  }

  readonly challenges: Challenges = {
    put: async (id, value, ttlSeconds) => {
      this.#putEphemeral(this.#challenges, id, { value, expiresAt: expiresAt(ttlSeconds) })
    },
    take: async (id) => {
      const entry = this.#challenges.live(id)
      if (entry === undefined) return null
      this.#challenges.entries.delete(id)
      return entry.value
    }
  }

  // One process: every app on this store hears an invalidation at once.
  readonly userInvalidations: UserInvalidations = {
    publish: async (userId) => {
      for (const listener of this.#listeners) listener(userId)
    },
    listen: (listener) => { this.#listeners.push(listener) },
    live: true
  }

  async close (): Promise<void> {
    clearInterval(this.#sweepTimer)
    this.#durable.entries.clear()
    this.#challenges.entries.clear()
    this.#counters.entries.clear()
  }

  /** Drops every expired entry. */
  sweep (now = Date.now()): void {
    this.#durable.sweep(now)
    this.#challenges.sweep(now)
    this.#counters.sweep(now)
  }

  /** Refuses a new durable entry when the durable space is full of live entries. */
  #makeDurableRoom (): void {
    if (this.#durable.entries.size < this.#maxEntries) return
    // One full sweep per second at most, so a store kept full stays cheap.
    const now = Date.now()
    if (now - this.#lastFullSweep >= 1000) {
      this.#lastFullSweep = now
      this.#durable.sweep(now)
    }
    if (this.#durable.entries.size >= this.#maxEntries) throw new StoreFullError(this.#durable.entries.size)
  }

  #putEphemeral (space: ExpiringMap, key: string, entry: Entry): void {
    const { entries } = space
    if (!entries.has(key)) {
      // Oldest first: the first keys of a Map are the earliest inserted.
      for (const oldest of entries.keys()) {
        if (entries.size < this.#maxEphemeral) break
        entries.delete(oldest)
      }
    }
    entries.set(key, entry)
  }
}

const markerKey = (scope: RevocationScope, id: string): string => `${scope === 'family' ? 'fam' : 'usr'}:${id}`
const refreshKey = (family: string, jti: string): string => `rt:${family}:${jti}`
const generationKey = (family: string): string => `rg:${family}`

export type { MemoryStore }

/** An in-process, bounded, expiring store: the default, for a single instance. */
export function memoryStore (options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options)
}
