import { randomUUID } from 'node:crypto'
import { createDecoder } from 'fast-jwt'
import type { ResolvedOptions } from '../config/options.js'
import type { TokenPair } from '../types.js'
import type { Jwt } from './jwt.js'

/** The claims of a token pair, before signing: what a spent refresh token keeps to hand its successor out again. */
export interface PairClaims {
  access: Record<string, unknown>
  refresh: Record<string, unknown>
}

/** What a pair is made of: the session it belongs to, the roles and extra claims of its access token. */
export interface PairSource {
  sub: string
  fam: string
  epoch: string | undefined
  roles: readonly string[] | undefined
  claims: Record<string, unknown> | undefined
  /** The refresh token's place in its family (`gen`): 0 at login, one more at each rotation. */
  generation: number
}

// A claim the refresh token carries too: the CSRF binding of cookie sessions.
const CSRF_CLAIM = 'csh'

/**
 * Access and refresh token pairs. Claims are fixed first (fresh ids, `iat`
 * now) and signed after, so the same claims can be signed again: the
 * successor of a spent refresh token is re-signed, never stored as a string.
 */
export function createPairs (config: ResolvedOptions, jwt: Jwt) {
  return {
    /** `refreshJti`: the id reserved for the refresh token, if any. */
    claimsFor (
      { sub, fam, epoch, roles, claims, generation }: PairSource, refreshJti: string = randomUUID()
    ): PairClaims {
      const iat = Math.floor(Date.now() / 1000)
      const access: Record<string, unknown> = { ...claims, sub, jti: randomUUID(), fam, ep: epoch, iat }
      if (roles !== undefined) access.roles = roles
      const refresh: Record<string, unknown> = {
        sub, jti: refreshJti, fam, ep: epoch, iat, gen: generation, [CSRF_CLAIM]: claims?.[CSRF_CLAIM]
      }
      return { access, refresh }
    },

    sign ({ access, refresh }: PairClaims): TokenPair {
      return {
        accessToken: jwt.signAccess(access),
        refreshToken: jwt.signRefresh(refresh),
        tokenType: 'Bearer',
        expiresIn: config.accessTtl,
        refreshExpiresIn: config.refreshTtl
      }
    }
  }
}

export type Pairs = ReturnType<typeof createPairs>

// The family of a pair just signed, for the audit event: read back from the token, which needs no check.
const decode = createDecoder()
export const familyOf = (pair: TokenPair): string => (decode(pair.refreshToken) as { fam: string }).fam
