import { createHash, randomBytes } from 'node:crypto'
import type { ResolvedStore } from '../stores/resolve.js'
import type { SessionMetadata } from '../types.js'

/** What a login attempt waiting for its second factor keeps in the store (never the token itself). */
export interface PendingAttempt {
  sub: string
  /** The user's revocation epoch when the password was checked: a password change or revokeAll since ends it. */
  epoch: string | null
  /** Wrong codes given with this token so far. */
  failures: number
  expiresAt: number
  metadata: SessionMetadata
  /** What the first step proved when it was not a password (a provider's sign-in): its methods and claims. */
  first?: FirstStep
}

/** A first step other than a password: its RFC 8176 methods (`['fed']`) and the claims its session carries (`idp`). */
export interface FirstStep {
  amr: string[]
  claims: Record<string, unknown>
}

/** How long an mfa_token works. */
export const ATTEMPT_TTL = 300
/** Wrong codes one mfa_token takes; then it is spent (the account's MFA lockout counts them too). */
export const ATTEMPT_FAILURES = 3

// 32 random bytes, base64url: 43 characters. Anything else is refused before the store is asked.
const TOKEN_SHAPE = /^[\w-]{43}$/

const digest = (value: string): string => createHash('sha256').update(value).digest('base64url')

function parse (stored: string | null): PendingAttempt | null {
  const record = JSON.parse(stored ?? 'null') as Partial<PendingAttempt> | null
  return typeof record?.sub === 'string' && typeof record.expiresAt === 'number' ? record as PendingAttempt : null
}

/**
 * Login attempts between the password and the second factor: the `mfa_token` goes to the client, the store keeps
 * its SHA-256 (a 256-bit random token needs no slow hash) with the attempt, for 5 minutes. `take` gives it up
 * once (atomic: of concurrent verifications one holds it); a wrong code puts it back, for its remaining life,
 * until its failures run out.
 */
export function createAttempts (store: ResolvedStore) {
  const keyOf = (hash: string): string => `mfa:${hash}`
  /** Stores the attempt again, for the rest of its life. */
  const putBack = async (hash: string, attempt: PendingAttempt): Promise<void> => {
    const seconds = Math.max(1, Math.ceil((attempt.expiresAt - Date.now()) / 1000))
    await store.challenges.put(keyOf(hash), JSON.stringify(attempt), seconds)
  }

  /** Spends the token: its attempt, or null when malformed, unknown, spent or expired. */
  async function take (token: unknown): Promise<{ attempt: PendingAttempt, hash: string } | null> {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return null
    const hash = digest(token)
    const attempt = parse(await store.challenges.take(keyOf(hash)))
    return attempt === null ? null : { attempt, hash }
  }

  return {
    async begin (sub: string, epoch: string | null, metadata: SessionMetadata, first?: FirstStep): Promise<string> {
      const token = randomBytes(32).toString('base64url')
      const attempt: PendingAttempt = {
        sub,
        epoch,
        failures: 0,
        expiresAt: Date.now() + ATTEMPT_TTL * 1000,
        metadata,
        ...(first === undefined ? {} : { first })
      }
      await store.challenges.put(keyOf(digest(token)), JSON.stringify(attempt), ATTEMPT_TTL)
      return token
    },

    take,

    /** A wrong code: the token works again, for the rest of its life, while failures remain. */
    async failed (hash: string, attempt: PendingAttempt): Promise<void> {
      const failures = attempt.failures + 1
      if (failures >= ATTEMPT_FAILURES) return
      await putBack(hash, { ...attempt, failures })
    },

    /**
     * The attempt of a token, left in place (the passkey options of its second step): null as for `take`. Taken and
     * put back: a verification at that very moment finds no token (401), and the client asks again.
     */
    async peek (token: unknown): Promise<PendingAttempt | null> {
      const taken = await take(token)
      if (taken !== null) await putBack(taken.hash, taken.attempt)
      return taken?.attempt ?? null
    }
  }
}

export type Attempts = ReturnType<typeof createAttempts>
