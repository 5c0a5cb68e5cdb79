import { createHash, randomBytes } from 'node:crypto'
import type { Challenges } from '../stores/types.js'

/** What a one-time token is for: a token of one purpose never works for the other. */
export type TokenPurpose = 'reset' | 'verify'

/** A spent token: its user, end of life and fingerprint, and what `restore` needs to put it back. */
export interface SpentToken { sub: string, expiresAt: number, fingerprint: string, hash: string }

// 32 random bytes, base64url: 43 characters. Anything else is refused before the store is asked.
const TOKEN_SHAPE = /^[\w-]{43}$/

const digest = (value: string): string => createHash('sha256').update(value).digest('base64url')

/**
 * The state a token was issued for, as a digest: the password hash for a reset (a reset, a change or a new
 * account under a reused id makes the link stale), the address for a verification (a changed address is not
 * the one verified).
 */
export const fingerprint = (state: unknown): string => digest(typeof state === 'string' ? state : '')

function parse (stored: string | null): Omit<SpentToken, 'hash'> | null {
  try {
    const record = JSON.parse(stored ?? 'null') as Partial<SpentToken> | null
    if (typeof record?.sub === 'string' && typeof record.expiresAt === 'number' &&
        typeof record.fingerprint === 'string') {
      return { sub: record.sub, expiresAt: record.expiresAt, fingerprint: record.fingerprint }
    }
  } catch {}
  return null
}

/**
 * One-time tokens for password resets and email verifications. The token goes
 * to the user; the store keeps only its SHA-256 (a 256-bit random token needs
 * no slow hash), under its purpose, with a TTL, and gives it up once (`take`
 * is atomic: of concurrent uses, one wins). A new request does not cancel the
 * links before it (no one can cancel someone else's link): each is checked
 * against the state it was issued for when it is spent.
 */
export function createOneTimeTokens (challenges: Challenges) {
  const tokenKey = (purpose: TokenPurpose, hash: string): string => `${purpose}:${hash}`

  return {
    /** A new token for the user, tied to `state` (see fingerprint); the store keeps its hash for `ttlSeconds`. */
    async issue (purpose: TokenPurpose, sub: string, ttlSeconds: number, state: unknown): Promise<string> {
      const token = randomBytes(32).toString('base64url')
      const record = { sub, expiresAt: Date.now() + ttlSeconds * 1000, fingerprint: fingerprint(state) }
      await challenges.put(tokenKey(purpose, digest(token)), JSON.stringify(record), ttlSeconds)
      return token
    },

    /** Spends the token: its record, or null when malformed, unknown, used, expired or for another purpose. */
    async take (purpose: TokenPurpose, token: unknown): Promise<SpentToken | null> {
      if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return null
      const hash = digest(token)
      const record = parse(await challenges.take(tokenKey(purpose, hash)))
      if (record === null || record.expiresAt <= Date.now()) return null
      return { ...record, hash }
    },

    /** Puts a spent token back for the rest of its life, when the request that spent it changed nothing. */
    async restore (purpose: TokenPurpose, spent: SpentToken): Promise<void> {
      const seconds = Math.ceil((spent.expiresAt - Date.now()) / 1000)
      if (seconds < 1) return
      const { hash, ...record } = spent
      await challenges.put(tokenKey(purpose, hash), JSON.stringify(record), seconds)
    }
  }
}

export type OneTimeTokens = ReturnType<typeof createOneTimeTokens>
