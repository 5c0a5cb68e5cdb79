import type { AuthUser } from '../types.js'

export interface UserCache {
  get (id: string): AuthUser | undefined
  set (id: string, user: AuthUser): void
  delete (id: string): void
  /** Drops every user. */
  clear (): void
}

const NO_CACHE: UserCache = { get: () => undefined, set () {}, delete () {}, clear () {} }

/**
 * Users loaded by findById, kept for `ttlSeconds`, at most about `max` of them.
 * Only found users are cached, so a user created after a miss is seen at once.
 *
 * Two generations of max/2 entries, as in the verify cache: when the current
 * one is full it becomes the previous one and the older is dropped whole
 * (deleting a full Map's first key on every insert costs microseconds).
 */
export function createUserCache (ttlSeconds: number, max: number): UserCache {
  if (ttlSeconds === 0) return NO_CACHE
  const ttlMs = ttlSeconds * 1000
  const generation = Math.max(1, Math.floor(max / 2))
  let current = new Map<string, { user: AuthUser, expiresAt: number }>()
  let previous = new Map<string, { user: AuthUser, expiresAt: number }>()
  return {
    get (id) {
      // An entry of the previous generation stays there until it goes: users are re-read within the TTL anyway.
      const entry = current.get(id) ?? previous.get(id)
      if (entry === undefined) return undefined
      if (entry.expiresAt > Date.now()) return entry.user
      current.delete(id)
      previous.delete(id)
      return undefined
    },
    set (id, user) {
      previous.delete(id)
      if (current.size >= generation && !current.has(id)) {
        previous = current
        current = new Map()
      }
      current.set(id, { user, expiresAt: Date.now() + ttlMs })
    },
    delete (id) {
      current.delete(id)
      previous.delete(id)
    },
    clear () {
      current = new Map()
      previous = new Map()
    }
  }
}
