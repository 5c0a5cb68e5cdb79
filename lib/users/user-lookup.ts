import type { JwtAuthUsers } from '../config/options.js'
import type { UserInvalidations } from '../stores/types.js'
import type { AuthUser } from '../types.js'
import type { UserCache } from './user-cache.js'

/**
 * The user behind a token: `users.findById`, with the user cache in front for
 * authenticate. The cache is kept the same on every instance: an invalidation
 * published on the store reaches every instance's cache, a resync of the
 * store's channel drops it whole, and while invalidations could be missed the
 * cache is not used at all.
 */
export function createUserLookup (users: JwtAuthUsers, cache: UserCache, invalidations: UserInvalidations) {
  const findById = users.findById
  // Bumped by every invalidation: a lookup that an invalidation overtook may
  // hold the record from before it, and is not cached.
  let invalidated = 0
  invalidations.listen((userId) => {
    invalidated++
    if (userId === null) cache.clear()
    else cache.delete(userId)
  })

  async function fresh (id: string): Promise<AuthUser | null> {
    const before = invalidated
    const found = await findById!(id)
    if (found === null || found === undefined) return null
    // FoundUser and AuthUser name the same type once JwtAuthTypes is augmented.
    const user = found as AuthUser
    if (invalidated === before) cache.set(id, user)
    return user
  }

  return {
    /** False without users.findById: the token claims stand for the user. */
    enabled: findById !== undefined,

    /** From the cache when there (synchronously), else from findById. */
    load (id: string): AuthUser | Promise<AuthUser | null> {
      return (invalidations.live !== false ? cache.get(id) : undefined) ?? fresh(id)
    },

    /** Always from findById (refresh: a disabled user gets no new pair, a demoted one the new roles). */
    fresh,

    /** Drops the user from the cache of every instance sharing the store. */
    async invalidate (id: string): Promise<void> {
      invalidated++
      cache.delete(id)
      await invalidations.publish(id)
    }
  }
}

export type UserLookup = ReturnType<typeof createUserLookup>
