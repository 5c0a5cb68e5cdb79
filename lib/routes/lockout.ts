import { AccountLockedError } from '../errors.js'
import type { ResolvedRoutes } from '../config/routes.js'
import type { StoreGuard } from '../stores/guard.js'
import type { AuthStore } from '../stores/types.js'

/**
 * Per-account lockout, on top of the per-IP rate limit: after `maxFailures`
 * failed logins for one login name within `window`, that name is refused for
 * `duration`. It counts names, not users, so it says nothing about which
 * names exist.
 */
export function createLockout (options: NonNullable<ResolvedRoutes['lockout']>, store: AuthStore, guard: StoreGuard) {
  const normalise = (login: string): string => login.trim().toLowerCase()
  const failuresKey = (login: string): string => `lf:${normalise(login)}`
  const lockKey = (login: string): string => `lk:${normalise(login)}`

  async function increment (key: string): Promise<number> {
    if (store.increment !== undefined) return store.increment(key, options.window)
    const count = Number.parseInt(await store.get(key) ?? '0', 10) + 1
    await store.set(key, String(count), options.window)
    return count
  }

  return {
    async assertOpen (login: string): Promise<void> {
      const lockedUntil = await guard(() => store.get(lockKey(login)))
      if (lockedUntil === null) return
      const error = new AccountLockedError()
      const retryAfter = Math.max(1, Math.ceil((Number(lockedUntil) - Date.now()) / 1000))
      throw Object.assign(error, { headers: { 'retry-after': String(retryAfter) } })
    },

    async recordFailure (login: string): Promise<void> {
      const failures = await guard(() => increment(failuresKey(login)))
      if (failures < options.maxFailures) return
      await guard(async () => {
        await store.set(lockKey(login), String(Date.now() + options.duration * 1000), options.duration)
        await store.delete(failuresKey(login))
      })
    },

    async recordSuccess (login: string): Promise<void> {
      await guard(() => store.delete(failuresKey(login)))
    }
  }
}

export type Lockout = ReturnType<typeof createLockout>
