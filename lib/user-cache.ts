import type { AuthUser } from './types.js'

export interface UserCache {
  get (id: string): AuthUser | undefined
  set (id: string, user: AuthUser): void
  delete (id: string): void
}

const NO_CACHE: UserCache = { get: () => undefined, set () {}, delete () {} }

/**
 * Users loaded by findById, kept for `ttlSeconds`, at most `max` of them (the
 * oldest insert goes first). Only found users are cached, so a user created
 * after a miss is seen at once.
 */
export function createUserCache (ttlSeconds: number, max: number): UserCache {
  if (ttlSeconds === 0) return NO_CACHE
  const ttlMs = ttlSeconds * 1000
  const entries = new Map<string, { user: AuthUser, expiresAt: number }>()
  return {
    get (id) {
      const entry = entries.get(id)
      if (entry === undefined) return undefined
      if (entry.expiresAt > Date.now()) return entry.user
      entries.delete(id)
      return undefined
    },
    set (id, user) {
      entries.delete(id)
      if (entries.size >= max) entries.delete(entries.keys().next().value as string)
      entries.set(id, { user, expiresAt: Date.now() + ttlMs })
    },
    delete (id) {
      entries.delete(id)
    }
  }
}
