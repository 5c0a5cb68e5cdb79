import type { FastifyBaseLogger } from 'fastify'
import type { Emit } from '../audit/events.js'
import type { ResolvedOptions } from '../config/options.js'
import {
  InvalidTokenError, RefreshTokenReusedError, RefreshTokenUnknownError, TokenRevokedError, UserNotFoundError
} from '../errors.js'
import type { ResolvedStore } from '../stores/resolve.js'
import type { RefreshState } from '../stores/types.js'
import type { SessionMetadata, TokenPair } from '../types.js'
import type { UserLookup } from '../users/user-lookup.js'
import type { Jwt, RefreshTokenClaims } from './jwt.js'
import type { PairClaims, Pairs } from './pairs.js'
import type { Revocation } from './revocation.js'
import type { LoginSessions, RefreshRecord } from './sessions.js'

interface RefreshDeps {
  config: ResolvedOptions
  store: ResolvedStore
  jwt: Jwt
  pairs: Pairs
  revocation: Revocation
  sessions: LoginSessions
  users: UserLookup
  log: FastifyBaseLogger
  emit: Emit
}

type AbsentState = Extract<RefreshState, { state: 'absent' }>

function parse<T> (stored: string): T | undefined {
  try {
    return JSON.parse(stored) as T
  } catch {
    return undefined
  }
}

/**
 * Refresh token rotation (RFC 9700 section 4.14). Each refresh token is live
 * until rotated; the rotation is one atomic store operation, so of concurrent
 * refreshes with one token exactly one mints the successor. The spent token
 * keeps that successor's claims for `refreshGrace`: a retry (the answer was
 * lost, a second tab) gets the same pair, re-signed. After the grace, or once
 * the successor itself was used, presenting it again is a reuse: the family is
 * revoked.
 */
export function createRefresh ({ config, store, jwt, pairs, revocation, sessions, users, log, emit }: RefreshDeps) {
  const ttl = Math.ceil(config.refreshTtl + config.clockTolerance) + 1

  /**
   * No record: spent long ago (a reuse), or lost by the store (no proof of theft: nothing else is revoked). The
   * family's generation is the one the store read with the record's absence when it gave one (see RefreshState).
   */
  async function missing (
    claims: RefreshTokenClaims, metadata: SessionMetadata | undefined, absent: AbsentState | null
  ): Promise<never> {
    const { gen } = claims
    // A generation that is not a whole number (a store's own `absent` answer gone wrong) is asked for again.
    const generation = absent !== null && Number.isSafeInteger(absent.generation)
      ? absent.generation
      : await store.refreshTokens.generation(claims.fam)
    // A token without `gen` predates generations: taken for a reuse, as it was then.
    if (!Number.isSafeInteger(gen) || gen! < generation) {
      return reuse(claims, metadata)
    }
    emit('refresh.unknown', { userId: claims.sub, familyId: claims.fam, ...metadata })
    log.warn({ sub: claims.sub, family: claims.fam }, 'fastify-jwt-auth: a refresh token the store has no record ' +
      'of, not behind its family (a write lost in a failover?); refused, its family left as it is')
    throw new RefreshTokenUnknownError()
  }

  async function reuse (claims: RefreshTokenClaims, metadata: SessionMetadata | undefined): Promise<never> {
    await revocation.revokeFamily(claims.fam, claims.sub)
    emit('refresh.reuse', { userId: claims.sub, familyId: claims.fam, ...metadata })
    log.warn({ sub: claims.sub, family: claims.fam }, 'fastify-jwt-auth: refresh token reuse detected; family revoked')
    throw new RefreshTokenReusedError()
  }

  /** The successor minted by the rotation that won, signed again for this caller. */
  async function replay (successor: string, claims: RefreshTokenClaims): Promise<TokenPair> {
    const pair = parse<PairClaims>(successor)
    // Written by a rotation of this family; anything else (a store tampered with) is refused, not a 500.
    if (pair?.refresh?.fam !== claims.fam || typeof pair.access !== 'object' || pair.access === null) {
      throw new InvalidTokenError('The refresh token does not match its session')
    }
    // The user is read fresh here too: one disabled since the rotation gets nothing.
    await currentRoles(claims.sub, undefined)
    return pairs.sign(pair)
  }

  type Roles = readonly string[] | undefined
  /** The roles for the new access token: the user's as stored now, read past the cache. */
  async function currentRoles (sub: string, recorded: Roles): Promise<Roles> {
    if (!users.enabled) return recorded
    const user = await users.fresh(sub) as { roles?: unknown } | null
    if (user === null) throw new UserNotFoundError()
    if (user.roles === undefined) return undefined
    // A roles field that is not a list of names grants nothing (fail closed).
    return Array.isArray(user.roles) ? user.roles.filter((role): role is string => typeof role === 'string') : []
  }

  type Rotated = { pair: TokenPair, claims: RefreshTokenClaims }
  async function rotate (token: string, metadata?: SessionMetadata): Promise<Rotated> {
    const claims = jwt.verifyRefresh(token)
    if (await revocation.check(claims)) throw new TokenRevokedError()
    const found = await store.refreshTokens.find(claims.fam, claims.jti)
    if (found === null || found.state === 'absent') return missing(claims, metadata, found)
    if (found.state === 'spent') return { pair: await replay(found.successor, claims), claims }
    const record = parse<RefreshRecord>(found.record)
    if (record?.sub !== claims.sub || record.fam !== claims.fam) {
      throw new InvalidTokenError('The refresh token does not match its session')
    }
    const roles = await currentRoles(claims.sub, record.roles)
    const generation = (Number.isSafeInteger(claims.gen) ? claims.gen! : 0) + 1
    const next = pairs.claimsFor({
      sub: claims.sub, fam: claims.fam, epoch: claims.ep, roles, claims: record.claims, generation
    })
    const nextRecord: RefreshRecord = { ...record, roles, parent: claims.jti }
    const before = await store.refreshTokens.rotate({
      family: claims.fam,
      jti: claims.jti,
      parent: record.parent,
      next: { jti: next.refresh.jti as string, record: JSON.stringify(nextRecord) },
      successor: JSON.stringify(next),
      ttlSeconds: ttl,
      graceSeconds: config.refreshGrace,
      generation
    })
    // Gone between find and rotate: spent by a concurrent refresh (strict rotation), expired, or discarded.
    if (before === null || before.state === 'absent') return missing(claims, metadata, before)
    // Another refresh spent it between find and rotate: it won, this one gets its pair.
    if (before.state === 'spent') return { pair: await replay(before.successor, claims), claims }
    const head = { jti: next.refresh.jti as string, generation }
    await sessions.record(claims.sub, claims.fam, record.createdAt, metadata, head)
    return { pair: pairs.sign(next), claims }
  }

  return async function refresh (token: string, metadata?: SessionMetadata): Promise<TokenPair> {
    const { pair, claims } = await rotate(token, metadata)
    emit('refresh', { userId: claims.sub, familyId: claims.fam, ...metadata })
    return pair
  }
}
