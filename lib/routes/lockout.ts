import { createHash } from 'node:crypto'
import type { ResolvedRoutes } from '../config/routes.js'
import { AccountLockedError } from '../errors.js'
import type { ResolvedStore } from '../stores/resolve.js'
import { foldLogin } from '../users/login-name.js'

/**
 * Whose attempt it is: the login name typed (a login), and the account it names when it names one (a login
 * whose name a lookup found, a password change). At least one of the two.
 */
export interface LockoutSubject {
  login?: string
  userId?: string
}

function lockedError (until: number): Error {
  const retryAfter = Math.max(1, Math.ceil((until - Date.now()) / 1000))
  return Object.assign(new AccountLockedError(), { headers: { 'retry-after': String(retryAfter) } })
}

const digest = (text: string): string => createHash('sha256').update(text).digest('base64url')

/**
 * Per-account lockout, on top of the per-IP rate limit: after `maxFailures`
 * failed attempts within `window`, the name or the account is refused for
 * `duration`. An attempt counts under two keys: the login name typed, folded
 * (`foldLogin`, so that its spellings share a count, and so that an unknown
 * name locks as a known one does: the lockout says nothing about which names
 * exist), and the account the name resolves to. Either key at its limit
 * refuses the attempt; the last allowed failure locks both.
 *
 * A guess tests a password only when its name resolves to that account, so
 * every guess is counted under the account, which only the account's own
 * success forgives: a success as a look-alike (`alicé` next to `alice`, same
 * folded name) resets the shared name key, never alice's account key. Every
 * attempt is counted before the password is checked: one whose count or lock
 * cannot be written never reaches the password (the store error is a 503).
 */
export function createLockout (options: NonNullable<ResolvedRoutes['lockout']>, store: ResolvedStore, namespace = '') {
  // A digest names the count and the lock: bounded in size whatever the name, and no name is stored. An account
  // key has a prefix no name digest has, so that no typed login gives it. A namespace ('mfa.') keeps a lockout of
  // its own apart from the logins'.
  const keysOf = ({ login, userId }: LockoutSubject): string[] => [
    ...(login === undefined ? [] : [`${namespace}${digest(foldLogin(login))}`]),
    ...(userId === undefined ? [] : [`${namespace}id.${digest(userId)}`])
  ]
  const counterOf = (key: string): string => `login:${key}`

  // The count starts again once the lock is written: the lock now holds the key.
  async function writeLocks (keys: string[]): Promise<number> {
    const until = Date.now() + options.duration * 1000
    await Promise.all(keys.map(async (key) => {
      await store.locks.lock(key, until, options.duration)
      await store.counters.reset(counterOf(key))
    }))
    return until
  }

  return {
    /** Refuses a locked key, then counts this attempt; returns whether a failure now must lock the keys. */
    async begin (subject: LockoutSubject): Promise<{ lastChance: boolean }> {
      const keys = keysOf(subject)
      // Both keys at once: a known name costs about the store time an unknown one does.
      const locks = await Promise.all(keys.map((key) => store.locks.lockedUntil(key)))
      const until = Math.max(0, ...locks.map((lockedUntil) => lockedUntil ?? 0))
      if (until > Date.now()) throw lockedError(until)
      const attempts = await Promise.all(keys.map((key) => store.counters.increment(counterOf(key), options.window)))
      // Over the limit without a lock (one could not be written): lock now, still before the password.
      if (attempts.some((count) => count > options.maxFailures)) throw lockedError(await writeLocks(keys))
      return { lastChance: attempts.includes(options.maxFailures) }
    },

    /** The password was wrong on the last allowed attempt: lock the keys (a lock that cannot be written is a 503). */
    async failed (subject: LockoutSubject): Promise<void> {
      await writeLocks(keysOf(subject))
    },

    /**
     * The password was right: forgive the account's failures, and those of the name typed, which resolved to this
     * account (failures under that name for another account stay counted under that account).
     */
    async succeeded (subject: LockoutSubject): Promise<void> {
      await Promise.all(keysOf(subject).map((key) => store.counters.reset(counterOf(key))))
    }
  }
}

export type Lockout = ReturnType<typeof createLockout>
