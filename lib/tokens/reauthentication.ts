import { randomUUID } from 'node:crypto'
import { TokenRevokedError } from '../errors.js'
import type { ResolvedStore } from '../stores/resolve.js'
import type { AccessTokenClaims, IssuableUser, SessionMetadata, TokenPair } from '../types.js'
import type { Proofs } from './authentication.js'
import type { Revocation } from './revocation.js'
import { carriedOptions } from './issue-options.js'
import type { Head } from './session-index.js'
import { generationAbove, type LoginSessions, type RecordWriter, type RefreshRecord } from './sessions.js'

/** What the route adds to a reauthentication: the CSRF binding of a cookie session, the request's details. */
export interface ReauthenticationExtras {
  csrfHash?: string | undefined
  metadata?: SessionMetadata | undefined
}

function parentOf (record: string): string | undefined {
  try {
    return (JSON.parse(record) as Partial<RefreshRecord> | null)?.parent
  } catch {
    return undefined
  }
}

/**
 * Reauthentication: a new pair in the caller's session (the same family), with the proofs just made. The new access
 * token carries the proofs' `amr`, a fresh `auth_time` and their `acr`, and the caller's own claims and scope; the
 * caller's revocation epoch stays (a revokeAll since the caller's token was issued ends the new pair too).
 *
 * What happens to the session's earlier tokens is what a refresh rotation does, without its grace: the previous
 * refresh token (the session's latest, as the session index knows it) is spent by a rotation to the new one, so
 * presenting it later is a reuse that revokes the session; no grace window hands the fresh authentication to
 * whoever holds it. The earlier access tokens are not called back (as after a rotation): they keep their older
 * `auth_time` until they expire.
 */
export function createReauthentication (store: ResolvedStore, sessions: LoginSessions, revocation: Revocation) {
  const { refreshTokens } = store

  /**
   * Stores the new record in place of the session's latest token, in one atomic rotation (strict: no grace), at
   * `generation` (past the token's), so that the spent token is behind its family. When the head is not live any
   * more (a refresh spent it just before, it expired) or unknown (a session of an earlier version), the new record is
   * created beside whatever is left, which keeps its older authentication.
   */
  function replacing (head: Head | undefined, generation: number): RecordWriter {
    return async (family, jti, record, ttlSeconds) => {
      const found = head === undefined ? null : await refreshTokens.find(family, head.jti)
      // Its parent's grace ends too, as with any rotation. Spent meanwhile by a refresh: the rotation says so.
      const before = found?.state !== 'live'
        ? null
        : await refreshTokens.rotate({
          family,
          jti: head!.jti,
          parent: parentOf(found.record),
          next: { jti, record },
          successor: '{}',
          ttlSeconds,
          graceSeconds: 0,
          generation
        })
      if (before?.state !== 'live') await refreshTokens.create(family, jti, record, ttlSeconds)
    }
  }

  return async function reauthenticate (
    user: IssuableUser, caller: AccessTokenClaims, proofs: Proofs, { csrfHash, metadata }: ReauthenticationExtras = {}
  ): Promise<TokenPair> {
    const { sub, fam } = caller
    const session = await sessions.current(sub, fam)
    // Above every generation the family had, its latest token's included: that token, spent by this rotation, is
    // then behind its family (a reuse), and a later rotation of the new pair that a failover loses is told apart
    // from a reuse.
    const generation = generationAbove(await store.refreshTokens.generation(fam), session?.head?.generation ?? 0)
    const pair = await sessions.issue(user, { ...carriedOptions(caller), metadata }, {
      reservation: { fam, jti: randomUUID() },
      csrfHash,
      proofs,
      continues: { epoch: caller.ep, createdAt: session?.createdAt, generation },
      writeRecord: replacing(session?.head, generation)
    })
    // Ended while the proofs were checked (a logout, a revokeAll): the new pair carries the caller's family and epoch,
    // so it is revoked already; the session leaves the index it was just put back in.
    if (await revocation.check(caller)) {
      await revocation.revokeFamily(fam, sub)
      throw new TokenRevokedError()
    }
    return pair
  }
}

export type Reauthenticate = ReturnType<typeof createReauthentication>
