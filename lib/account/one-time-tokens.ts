import { createHash, randomBytes } from 'node:crypto'
import type { Challenges } from '../stores/types.js'

/** What a one-time token is for: a token of one purpose never works for the other. */
export type TokenPurpose = 'reset' | 'verify'

/** A spent token's user and end of life: what `restore` needs to put it back. */
export interface SpentToken { sub: string, expiresAt: number, hash: string }

// 32 random bytes, base64url: 43 characters. Anything else is refused before the store is asked.
const TOKEN_SHAPE = /^[\w-]{43}$/

const digest = (token: string): string => createHash('sha256').update(token).digest('base64url')

function parse (stored: string | null): { sub: string, expiresAt: number } | null {
  try {
    const record = JSON.parse(stored ?? 'null') as { sub?: unknown, expiresAt?: unknown } | null
    if (typeof record?.sub === 'string' && typeof record.expiresAt === 'number') {
      return { sub: record.sub, expiresAt: record.expiresAt }
    }
  } catch {}
  return null
}

const secondsLeft = (expiresAt: number): number => Math.ceil((expiresAt - Date.now()) / 1000)

/**
 * One-time tokens for password resets and email verifications. The token goes
 * to the user; the store keeps only its SHA-256 (a 256-bit random token needs
 * no slow hash), under its purpose, with a TTL, and gives it up once (`take`
 * is atomic: of concurrent uses, one wins). A user has one token per purpose:
 * the user's pending pointer names it, and a token the pointer does not name
 * (an older one, or one whose request raced a newer one) does not work.
 */
export function createOneTimeTokens (challenges: Challenges) {
  const tokenKey = (purpose: TokenPurpose, hash: string): string => `${purpose}:${hash}`
  const pendingKey = (purpose: TokenPurpose, sub: string): string => `${purpose}-pending:${sub}`

  async function cancelPending (purpose: TokenPurpose, sub: string): Promise<void> {
    const pending = await challenges.take(pendingKey(purpose, sub))
    if (pending !== null) await challenges.take(tokenKey(purpose, pending.split(' ')[0]!))
  }

  /** Takes the user's pointer if it names `hash`; puts back a pointer that names another token. */
  async function takePointer (purpose: TokenPurpose, sub: string, hash: string): Promise<boolean> {
    const pending = await challenges.take(pendingKey(purpose, sub))
    if (pending === null) return false
    const [named, expiresAt] = pending.split(' ')
    if (named === hash) return true
    const seconds = secondsLeft(Number(expiresAt))
    if (seconds > 0) await challenges.put(pendingKey(purpose, sub), pending, seconds)
    return false
  }

  return {
    /** A new token for the user (the one before stops working); the store keeps its hash for `ttlSeconds`. */
    async issue (purpose: TokenPurpose, sub: string, ttlSeconds: number): Promise<string> {
      await cancelPending(purpose, sub)
      const token = randomBytes(32).toString('base64url')
      const hash = digest(token)
      const expiresAt = Date.now() + ttlSeconds * 1000
      await challenges.put(tokenKey(purpose, hash), JSON.stringify({ sub, expiresAt }), ttlSeconds)
      // Written last: of two requests racing, the token the pointer names is the one that works.
      await challenges.put(pendingKey(purpose, sub), `${hash} ${expiresAt}`, ttlSeconds)
      return token
    },

    /** Spends the token: its user, or null when malformed, unknown, used, expired, superseded or for another purpose. */
    async take (purpose: TokenPurpose, token: unknown): Promise<SpentToken | null> {
      if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return null
      const hash = digest(token)
      const record = parse(await challenges.take(tokenKey(purpose, hash)))
      if (record === null || record.expiresAt <= Date.now()) return null
      if (!await takePointer(purpose, record.sub, hash)) return null
      return { ...record, hash }
    },

    /**
     * Puts a spent token back for the rest of its life, when the request that spent it changed nothing (a
     * refused password, a failed write); not if a newer token was issued meanwhile.
     */
    async restore (purpose: TokenPurpose, spent: SpentToken): Promise<void> {
      const seconds = secondsLeft(spent.expiresAt)
      if (seconds < 1) return
      const pending = await challenges.take(pendingKey(purpose, spent.sub))
      if (pending !== null) {
        const left = secondsLeft(Number(pending.split(' ')[1]))
        if (left > 0) await challenges.put(pendingKey(purpose, spent.sub), pending, left)
        return
      }
      const record = JSON.stringify({ sub: spent.sub, expiresAt: spent.expiresAt })
      await challenges.put(tokenKey(purpose, spent.hash), record, seconds)
      await challenges.put(pendingKey(purpose, spent.sub), `${spent.hash} ${spent.expiresAt}`, seconds)
    },

    cancelPending
  }
}

export type OneTimeTokens = ReturnType<typeof createOneTimeTokens>
