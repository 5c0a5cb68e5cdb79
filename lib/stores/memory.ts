import { StoreFullError } from '../errors.js'
import type { AuthStore } from './types.js'

export interface MemoryStoreOptions {
  /** Live entries kept at most (default 1,000,000). A full store refuses writes; it never evicts. */
  maxEntries?: number
  /** Seconds between sweeps of expired entries (default 60). */
  sweepInterval?: number
}

interface Entry {
  value: string
  expiresAt: number
  /** The fields of a hash entry (the per-user session index). */
  fields?: Map<string, string>
}

/** Seconds an entry written again must live: what it has left, or `ttlSeconds` if longer (never shortened). */
function extendedTtl (entry: Entry | undefined, ttlSeconds: number): number {
  return entry === undefined ? ttlSeconds : Math.max((entry.expiresAt - Date.now()) / 1000, ttlSeconds)
}

/**
 * A bounded in-process store for one instance. It never evicts a live entry to
 * make room: dropping a revocation marker would let a revoked token through, so
 * when full (after dropping expired entries) it refuses the write, which the
 * plugin turns into a 503.
 */
class MemoryStore implements AuthStore {
  readonly #entries = new Map<string, Entry>()
  readonly #maxEntries: number
  readonly #sweepTimer: NodeJS.Timeout
  #lastFullSweep = 0

  constructor ({ maxEntries = 1_000_000, sweepInterval = 60 }: MemoryStoreOptions) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new TypeError(`memoryStore: maxEntries must be a positive integer (got ${String(maxEntries)})`)
    }
    if (typeof sweepInterval !== 'number' || !(sweepInterval > 0)) {
      throw new TypeError(`memoryStore: sweepInterval must be a positive number of seconds (got ${String(sweepInterval)})`)
    }
    this.#maxEntries = maxEntries
    this.#sweepTimer = setInterval(() => this.sweep(), sweepInterval * 1000).unref()
  }

  get size (): number {
    return this.#entries.size
  }

  async set (key: string, value: string, ttlSeconds: number): Promise<void> {
    this.#write(key, value, ttlSeconds)
  }

  async increment (key: string, ttlSeconds: number): Promise<number> {
    const entry = this.#live(key)
    if (entry === undefined) {
      this.#write(key, '1', ttlSeconds)
      return 1
    }
    // Keeps the expiry of the window the counter was created in.
    const count = (Number.parseInt(entry.value, 10) || 0) + 1
    entry.value = String(count)
    return count
  }

  async advance (key: string, floor: number, ttlSeconds: number): Promise<number> {
    const entry = this.#live(key)
    const value = entry === undefined ? floor : Math.max(floor, Number(entry.value) + 1)
    this.#write(key, String(value), extendedTtl(entry, ttlSeconds))
    return value
  }

  // A hash is one entry holding a Map: O(1) per field, however many sessions a user has.
  async hset (key: string, field: string, value: string, ttlSeconds: number): Promise<void> {
    const entry = this.#live(key)
    const fields = entry?.fields ?? new Map<string, string>()
    this.#write(key, '', extendedTtl(entry, ttlSeconds), fields)
    fields.set(field, value)
  }

  async hgetall (key: string): Promise<Record<string, string>> {
    const fields = this.#live(key)?.fields
    return fields === undefined ? {} : Object.fromEntries(fields)
  }

  async hdel (key: string, field: string): Promise<void> {
    const entry = this.#live(key)
    if (entry?.fields === undefined) return
    entry.fields.delete(field)
    if (entry.fields.size === 0) this.#entries.delete(key)
  }

  #write (key: string, value: string, ttlSeconds: number, fields?: Map<string, string>): void {
    if (!(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) {
      throw new TypeError(`memoryStore: ttlSeconds must be a positive number (got ${String(ttlSeconds)})`)
    }
    const entries = this.#entries
    if (entries.size >= this.#maxEntries && !entries.has(key)) {
      // One full sweep per second at most, so a store kept full stays cheap.
      const now = Date.now()
      if (now - this.#lastFullSweep >= 1000) {
        this.#lastFullSweep = now
        this.sweep(now)
      }
      if (entries.size >= this.#maxEntries) throw new StoreFullError(entries.size)
    }
    entries.set(key, fields === undefined ? { value, expiresAt: Date.now() + ttlSeconds * 1000 } : { value, expiresAt: Date.now() + ttlSeconds * 1000, fields })
  }

  async get (key: string): Promise<string | null> {
    return this.peek(key)
  }

  /** Everything is local here: always answers. */
  peek (key: string): string | null {
    return this.#live(key)?.value ?? null
  }

  async take (key: string): Promise<string | null> {
    // Atomic by construction: no await between the read and the delete.
    const entry = this.#live(key)
    if (entry === undefined) return null
    this.#entries.delete(key)
    return entry.value
  }

  async delete (key: string): Promise<void> {
    this.#entries.delete(key)
  }

  async close (): Promise<void> {
    clearInterval(this.#sweepTimer)
    this.#entries.clear()
  }

  /** Drops every expired entry. */
  sweep (now = Date.now()): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#entries.delete(key)
    }
  }

  #live (key: string): Entry | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(key)
      return undefined
    }
    return entry
  }
}

export type { MemoryStore }

/** An in-process, bounded, expiring store: the default, for a single instance. */
export function memoryStore (options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options)
}
