import { randomUUID } from 'node:crypto'
import { TokenRevokedError } from '../errors.js'
import type { ResolvedStore } from '../stores/resolve.js'
import type { AccessTokenClaims, IssuableUser, SessionMetadata, TokenPair } from '../types.js'
import type { Proofs } from './authentication.js'
import type { Revocation } from './revocation.js'
import { carriedOptions, type LoginSessions } from './sessions.js'

/** What the route adds to a reauthentication: the CSRF binding of a cookie session, the request's details. */
export interface ReauthenticationExtras {
  csrfHash?: string | undefined
  metadata?: SessionMetadata | undefined
}

/**
 * Reauthentication: a new pair in the caller's session (the same family), with the proofs just made. The new access
 * token carries the proofs' `amr`, a fresh `auth_time` and their `acr`, and the caller's own claims and scope; the
 * caller's revocation epoch stays (a revokeAll since the caller's token was issued ends the new pair too).
 *
 * What happens to the session's earlier tokens is what a refresh rotation does, without its grace: the previous
 * refresh token (the session's latest, as the session index knows it) is spent at once, so presenting it later is a
 * reuse that revokes the session; no grace window hands the fresh authentication to whoever holds it. The earlier
 * access tokens are not called back (as after a rotation): they keep their older `auth_time` until they expire.
 */
export function createReauthentication (store: ResolvedStore, sessions: LoginSessions, revocation: Revocation) {
  return async function reauthenticate (
    user: IssuableUser, caller: AccessTokenClaims, proofs: Proofs, { csrfHash, metadata }: ReauthenticationExtras = {}
  ): Promise<TokenPair> {
    const { sub, fam } = caller
    const session = await sessions.current(sub, fam)
    // Above every generation the family had: a later rotation of the new pair that a failover loses is then told
    // apart from a reuse (a store that keeps no generations answers Infinity: every missing record is a reuse).
    const familyGeneration = await store.refreshTokens.generation(fam)
    const generation = Number.isSafeInteger(familyGeneration) ? familyGeneration + 1 : 0
    const pair = await sessions.issue(user, { ...carriedOptions(caller), metadata }, {
      reservation: { fam, jti: randomUUID() },
      csrfHash,
      proofs,
      continues: { epoch: caller.ep, createdAt: session?.createdAt, generation }
    })
    // Ended while the proofs were checked (a logout, a revokeAll): the new pair carries the caller's family and epoch,
    // so it is revoked already; the session leaves the index it was just put back in.
    if (await revocation.check(caller)) {
      await revocation.revokeFamily(fam, sub)
      throw new TokenRevokedError()
    }
    // After the new pair exists: a failure here leaves the old token live, never the session without one. A refresh
    // that spent the old token just before keeps its own successor (with the older authentication).
    if (session?.head !== undefined) await store.refreshTokens.discard(fam, session.head)
    return pair
  }
}

export type Reauthenticate = ReturnType<typeof createReauthentication>
