import { createHash } from 'node:crypto'
import type { ResolvedRoutes } from '../config/routes.js'
import { AccountLockedError } from '../errors.js'
import type { ResolvedStore } from '../stores/resolve.js'

/** A login name, or a user known only by its id. */
export type LockoutName = string | { userId: string }

const FOLDED = /[\p{M}\p{Default_Ignorable_Code_Point}]/gu

function lockedError (until: number): Error {
  const retryAfter = Math.max(1, Math.ceil((until - Date.now()) / 1000))
  return Object.assign(new AccountLockedError(), { headers: { 'retry-after': String(retryAfter) } })
}

/**
 * Per-account lockout, on top of the per-IP rate limit: after `maxFailures`
 * failed logins for one login name within `window`, that name is refused for
 * `duration`. It counts names, not users, so it says nothing about which
 * names exist; names are folded first, so that the spellings of one name
 * that a lookup may match alike share their count. Every attempt is counted
 * as a failure before the password is checked and forgiven after a success:
 * an attempt whose count or lock cannot be written never reaches the
 * password (the store error is a 503).
 */
export function createLockout (options: NonNullable<ResolvedRoutes['lockout']>, store: ResolvedStore) {
  // Names a user lookup may take for one account count as one (a case-, accent- or width-insensitive
  // collation, NFKC): compatibility forms, marks, invisible characters, case and spacing are folded.
  // A digest names the count and the lock: bounded in size whatever the name, and no name is stored.
  // An account known only by its id (no username) counts apart, under a key no typed login can give.
  const accountKey = (login: LockoutName): string => typeof login === 'string'
    ? createHash('sha256')
      .update(login.normalize('NFKD').replace(FOLDED, '').trim().replace(/\s+/g, ' ').toLowerCase())
      .digest('base64url')
    : `id.${createHash('sha256').update(login.userId).digest('base64url')}`
  const counterOf = (name: string): string => `login:${name}`

  // The count starts again once the lock is written: the lock now holds the name.
  async function writeLock (name: string): Promise<number> {
    const until = Date.now() + options.duration * 1000
    await store.locks.lock(name, until, options.duration)
    await store.counters.reset(counterOf(name))
    return until
  }

  return {
    /** Refuses a locked name, then counts this attempt; returns whether a failure now must lock the name. */
    async begin (login: LockoutName): Promise<{ lastChance: boolean }> {
      const name = accountKey(login)
      const until = await store.locks.lockedUntil(name)
      if (until !== null && until > Date.now()) throw lockedError(until)
      const attempts = await store.counters.increment(counterOf(name), options.window)
      // Over the limit without a lock (one could not be written): lock now, still before the password.
      if (attempts > options.maxFailures) throw lockedError(await writeLock(name))
      return { lastChance: attempts === options.maxFailures }
    },

    /** The password was wrong on the last allowed attempt: lock the name (a lock that cannot be written is a 503). */
    async failed (login: LockoutName): Promise<void> {
      await writeLock(accountKey(login))
    },

    async succeeded (login: LockoutName): Promise<void> {
      await store.counters.reset(counterOf(accountKey(login)))
    }
  }
}

export type Lockout = ReturnType<typeof createLockout>
