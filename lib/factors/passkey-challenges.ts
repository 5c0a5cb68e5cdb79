import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import type { ResolvedStore } from '../stores/resolve.js'

type WebAuthn = typeof import('@simplewebauthn/server')
let loaded: Promise<WebAuthn> | undefined
/** @simplewebauthn/server, loaded with the first ceremony: an app without passkeys never loads it. */
export const webauthn = (): Promise<WebAuthn> => (loaded ??= import('@simplewebauthn/server'))

/** Which ceremony a challenge is for: one ceremony's challenge never serves another. */
export type Ceremony = 'register' | 'login' | 'mfa'

/** What the store keeps with a challenge: whose ceremony it is (null: a login without a name, anyone's passkey). */
export interface PendingCeremony {
  sub: string | null
}

const digest = (value: string): string => createHash('sha256').update(value).digest('base64url')

/**
 * The challenges of the passkey ceremonies, one-time, in the store's challenges for `timeout` seconds, under the
 * SHA-256 of the challenge and the ceremony's name.
 */
export function createPasskeyChallenges (store: ResolvedStore, timeout: number) {
  const keyOf = (ceremony: Ceremony, challenge: string): string => `passkey-${ceremony}:${digest(challenge)}`
  return {
    async put (ceremony: Ceremony, challenge: string, sub: string | null): Promise<void> {
      const pending: PendingCeremony = { sub }
      await store.challenges.put(keyOf(ceremony, challenge), JSON.stringify(pending), timeout)
    },

    /** Spends the challenge of the ceremony: what it was bound to, or null (unknown, spent, expired, another's). */
    async take (ceremony: Ceremony, challenge: string): Promise<PendingCeremony | null> {
      const stored = await store.challenges.take(keyOf(ceremony, challenge))
      return stored === null ? null : JSON.parse(stored) as PendingCeremony
    }
  }
}

export type PasskeyChallenges = ReturnType<typeof createPasskeyChallenges>

const BASE64URL = /^[\w-]+={0,2}$/

/**
 * The challenge a response signed, read from its clientDataJSON (base64url JSON), before anything is verified: the
 * key of the ceremony to spend. Null when it has none that could be one.
 */
export function challengeOf (response: unknown): string | null {
  const clientData = (response as { response?: { clientDataJSON?: unknown } } | null)?.response?.clientDataJSON
  if (typeof clientData !== 'string' || !BASE64URL.test(clientData)) return null
  try {
    const { challenge } = JSON.parse(Buffer.from(clientData, 'base64url').toString('utf8')) as { challenge?: unknown }
    return typeof challenge === 'string' && BASE64URL.test(challenge) ? challenge : null
  } catch {
    return null
  }
}
