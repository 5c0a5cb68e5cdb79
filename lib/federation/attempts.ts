import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { OAuthCodeInvalidError, OAuthStateError } from '../errors.js'
import type { Challenges } from '../stores/types.js'

/** A sign-in or link begun in a browser: what its callback needs, kept one-time in the store's challenges. */
export interface Attempt {
  provider: string
  /** PKCE's code_verifier. */
  verifier: string
  /** OpenID Connect's nonce; none for plain OAuth 2.0. */
  nonce?: string | undefined
  /** Where the browser lands after the callback. */
  landing: string
  /** The user a link flow links the provider to; none for a sign-in. */
  linkUserId?: string | undefined
  /** SHA-256 of the value of the browser's attempt cookie: the attempt is this browser's only. */
  binding: string
}

/** What a one-time exchange code stands for: a user signed in through a provider, and when. */
export interface SignedIn {
  userId: string
  provider: string
  /** Seconds since the epoch. */
  authTime: number
}

// Long enough to sign in at the provider (a password, a second factor), short enough not to linger.
export const ATTEMPT_TTL = 600
// The issue's one-time code lives 60 seconds: the landing page exchanges it at once.
const CODE_TTL = 60
// 32 random bytes in base64url: what every state, code and cookie value is, and all that is looked up.
const TOKEN = /^[A-Za-z0-9_-]{43}$/

/** A new state, code or cookie value. */
export const random = (): string => randomBytes(32).toString('base64url')
const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/**
 * Sign-in attempts and exchange codes in the store's challenges (ephemeral, one-time: of two callbacks with one
 * state, or two exchanges of one code, one takes it). Only the code's hash is a key: a store dump holds no code.
 */
export function createAttempts (challenges: Challenges) {
  return {
    /** Stores the attempt under its state (from `random`); the cookie value returned binds it to a browser. */
    async begin (state: string, attempt: Omit<Attempt, 'binding'>): Promise<string> {
      const cookie = random()
      const stored: Attempt = { ...attempt, binding: digest(cookie).toString('base64url') }
      await challenges.put(`oauth-state:${state}`, JSON.stringify(stored), ATTEMPT_TTL)
      return cookie
    },

    /** Takes the attempt of `state`, once, if `cookie` is the one its browser got; else OAuthStateError. */
    async take (state: unknown, cookie: unknown): Promise<Attempt> {
      if (typeof state !== 'string' || !TOKEN.test(state)) {
        throw new OAuthStateError('The state is missing or malformed')
      }
      // Taken first, whatever the cookie: a state seen with another browser's cookie is spent (login CSRF).
      const stored = await challenges.take(`oauth-state:${state}`)
      if (stored === null) throw new OAuthStateError('The sign-in attempt is unknown, used or expired')
      const attempt = JSON.parse(stored) as Attempt
      const expected = Buffer.from(attempt.binding, 'base64url')
      if (typeof cookie !== 'string' || !TOKEN.test(cookie) || !timingSafeEqual(expected, digest(cookie))) {
        throw new OAuthStateError('The sign-in attempt was begun in another browser')
      }
      return attempt
    },

    /** A one-time code (60 s) standing for the sign-in. */
    async issueCode (signedIn: SignedIn): Promise<string> {
      const code = random()
      await challenges.put(`oauth-code:${digest(code).toString('base64url')}`, JSON.stringify(signedIn), CODE_TTL)
      return code
    },

    async redeem (code: unknown): Promise<SignedIn> {
      if (typeof code !== 'string' || !TOKEN.test(code)) throw new OAuthCodeInvalidError()
      const stored = await challenges.take(`oauth-code:${digest(code).toString('base64url')}`)
      if (stored === null) throw new OAuthCodeInvalidError()
      return JSON.parse(stored) as SignedIn
    }
  }
}

export type Attempts = ReturnType<typeof createAttempts>
