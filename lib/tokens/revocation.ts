import type { ResolvedStore } from '../stores/resolve.js'

/** What revocation looks at in a token: its user, its family and the user's epoch when it was issued. */
export interface RevocableClaims { sub: string, fam: string, ep?: string }

/**
 * The user's epoch moved past the token's: tokens carry the epoch current at
 * login (none before the first revokeAll), and each revokeAll raises it.
 * Epochs of 0.1.0 were random strings: any difference counts, as it did then.
 */
function epochPassed (current: string, tokenEpoch: string | undefined): boolean {
  const now = Number(current)
  const then = tokenEpoch === undefined ? 0 : Number(tokenEpoch)
  return Number.isSafeInteger(now) && Number.isSafeInteger(then) ? then < now : current !== tokenEpoch
}

// One rule for both paths: the family was revoked, or the user's epoch moved
// past the token's (no epoch: revokeAll never ran, or its tokens all expired).
const revokedBy = (familyMarker: string | null, epoch: string | null, claims: RevocableClaims): boolean =>
  familyMarker !== null || (epoch !== null && epochPassed(epoch, claims.ep))

/**
 * Tokens of other issuers carry no family and no epoch: a user marker (the time of a revokeAll, in ms) ends those
 * issued before it. `iat` is in seconds, so a token issued in the second of a revokeAll, even just after it, ends
 * too; one without `iat` ends at any revokeAll. Markers of 0.1.0 (random strings) end every such token.
 */
function revokedSince (marker: string | null, iat: number | undefined): boolean {
  if (marker === null) return false
  const at = Number(marker)
  return !Number.isSafeInteger(at) || at > (iat ?? 0) * 1000
}

/**
 * Revocation markers: a family marker ends one login session, a user marker
 * (the epoch) every session of the user issued before it. A marker outlives
 * every token it guards (`markerTtl`: the longest token lifetime, and more).
 */
export function createRevocation (store: ResolvedStore, markerTtl: number) {
  const { revocations, sessions } = store
  const peek = revocations.peek

  return {
    /** The answer from the store's local copy, synchronously; undefined when it has none. */
    checkLocally (claims: RevocableClaims): boolean | undefined {
      if (peek === undefined) return undefined
      const familyMarker = peek('family', claims.fam)
      if (familyMarker === undefined) return undefined
      const epoch = peek('user', claims.sub)
      if (epoch === undefined) return undefined
      return revokedBy(familyMarker, epoch, claims)
    },

    async check (claims: RevocableClaims): Promise<boolean> {
      const [familyMarker, epoch] = await Promise.all([
        revocations.read('family', claims.fam),
        revocations.read('user', claims.sub)
      ])
      return revokedBy(familyMarker, epoch, claims)
    },

    /** For a token of another issuer: whether a revokeAll of `userId` came after `iat`; undefined: no local copy. */
    checkUserLocally (userId: string, iat: number | undefined): boolean | undefined {
      const marker = peek?.('user', userId)
      return marker === undefined ? undefined : revokedSince(marker, iat)
    },

    async checkUser (userId: string, iat: number | undefined): Promise<boolean> {
      return revokedSince(await revocations.read('user', userId), iat)
    },

    /** The user's current epoch, carried by the tokens of a new login. */
    async epochOf (userId: string): Promise<string | undefined> {
      return await revocations.read('user', userId) ?? undefined
    },

    // Markers only grow (max(current + 1, now)), so concurrent writers and
    // mirrors merging in any order agree on the newest one.
    async revokeFamily (family: string, userId: string): Promise<void> {
      await revocations.raise('family', family, Date.now(), markerTtl)
      await sessions.remove(userId, family)
    },

    async revokeUser (userId: string): Promise<void> {
      await revocations.raise('user', userId, Date.now(), markerTtl)
      await sessions.clear(userId)
    }
  }
}

export type Revocation = ReturnType<typeof createRevocation>
