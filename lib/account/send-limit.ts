import { createHash } from 'node:crypto'
import type { Counters, Locks } from '../stores/types.js'
import type { TokenPurpose } from './one-time-tokens.js'

/** At most `max` messages of one purpose to one account within `window` (seconds). */
export interface ResolvedSendLimit { max: number, window: number }

/**
 * Per-account limit on the one-time-token messages the plugin asks the app to send: requests for one account,
 * from however many addresses, cannot flood its owner's mailbox (the per-IP rate limit cannot see that). Past the
 * limit a hold is written, durable like the lockout's lock, so that evicting the count (an ephemeral entry) does
 * not lift it; the hold lasts one window. A count or hold that cannot be read or written throws: nothing is sent.
 */
export function createSendLimit (store: { counters: Counters, locks: Locks }) {
  return {
    /** Counts one message to the account; false when it must not be sent. */
    async allow (purpose: TokenPurpose, userId: string, limit: ResolvedSendLimit | null): Promise<boolean> {
      if (limit === null) return true
      // A digest: bounded in size whatever the id, and apart from the lockout's names (no dot in those digests).
      const name = `send.${purpose}.${createHash('sha256').update(userId).digest('base64url')}`
      const until = await store.locks.lockedUntil(name)
      if (until !== null && until > Date.now()) return false
      const sent = await store.counters.increment(name, limit.window)
      if (sent <= limit.max) return true
      await store.locks.lock(name, Date.now() + limit.window * 1000, limit.window)
      await store.counters.reset(name)
      return false
    }
  }
}

export type SendLimit = ReturnType<typeof createSendLimit>
