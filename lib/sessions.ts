import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { InvalidTokenError, RefreshTokenReusedError, TokenRevokedError, UserNotFoundError } from './errors.js'
import type { Jwt, RefreshTokenClaims } from './tokens/jwt.js'
import type { ResolvedOptions } from './config/options.js'
import type { StoreGuard } from './stores/guard.js'
import type { UserCache } from './users/user-cache.js'
import type { AccessTokenClaims, AuthUser, IssuableUser, IssueOptions, SessionInfo, SessionMetadata, TokenPair } from './types.js'

// Store keys. Revocation is keyed on ids carried by the token (jti, family,
// user), never on the token string.
export const refreshKey = (jti: string): string => `rt:${jti}`
export const familyKey = (family: string): string => `fam:${family}`
export const userKey = (userId: string): string => `usr:${userId}`
/** The per-user session index: one hash per user, a field per family (no keyspace scan). */
export const sessionsKey = (userId: string): string => `ses:${userId}`

// Request details are stored as given, but bounded.
const clip = (value: unknown): string | undefined => typeof value === 'string' ? value.slice(0, 256) : undefined

interface SessionRecord {
  createdAt: number
  lastRefreshedAt: number
  expiresAt: number
  ip?: string
  userAgent?: string
}

const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'fam', 'ep'])
// A claim the refresh token carries too: the CSRF binding of cookie sessions.
const CSRF_CLAIM = 'csh'

/** What the store keeps for a live refresh token (the token itself is never stored). */
interface RefreshRecord {
  sub: string
  fam: string
  createdAt: number
  roles?: readonly string[]
  claims?: Record<string, unknown>
}

function parseRecord (stored: string): RefreshRecord | undefined {
  try {
    return JSON.parse(stored) as RefreshRecord
  } catch {
    return undefined
  }
}

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

interface SessionsDeps {
  config: ResolvedOptions
  jwt: Jwt
  guard: StoreGuard
  userCache: UserCache
  log: FastifyBaseLogger
}

function userIdOf (user: IssuableUser): string {
  const id = user?.id
  if ((typeof id !== 'string' && typeof id !== 'number') || String(id).length === 0) {
    throw new TypeError('issue: user.id must be a non-empty string or a number')
  }
  return String(id)
}

function checkClaims (claims: Record<string, unknown> | undefined): void {
  if (claims === undefined) return
  if (claims === null || typeof claims !== 'object') throw new TypeError('issue: options.claims must be an object')
  for (const name of Object.keys(claims)) {
    if (RESERVED_CLAIMS.has(name)) throw new TypeError(`issue: the ${name} claim is set by the plugin and cannot be given`)
  }
  if (claims.roles !== undefined && !(Array.isArray(claims.roles) && claims.roles.every((role) => typeof role === 'string'))) {
    throw new TypeError('issue: options.claims.roles must be an array of strings')
  }
}

/**
 * Login sessions on top of the store. A login starts a family; every access
 * and refresh token carries its family id (`fam`). Refresh tokens rotate
 * (RFC 9700 section 4.14): each is live in the store under its jti until taken,
 * and a valid but already-taken one marks its family revoked. revokeAll moves
 * the user to a new epoch (`ep`); tokens of an older epoch stop verifying.
 */
export function createSessions ({ config, jwt, guard, userCache, log }: SessionsDeps) {
  const { store, users } = config
  // A marker must outlive every token it guards: any token of the family or
  // user was issued before the marker, so expires within the longest TTL.
  const markerTtl = Math.ceil(Math.max(config.accessTtl, config.refreshTtl) + config.clockTolerance) + 1
  const refreshRecordTtl = Math.ceil(config.refreshTtl + config.clockTolerance) + 1

  // One rule for both paths: the family was revoked, or the user's epoch moved
  // past the token's (no epoch: revokeAll never ran, or its tokens all expired).
  const revokedBy = (familyMarker: string | null, epoch: string | null, claims: { ep?: string }): boolean =>
    familyMarker !== null || (epoch !== null && epochPassed(epoch, claims.ep))

  const peek = store.peek?.bind(store)

  /** The same answer as isRevoked, from the store's local view; undefined when it has none. */
  function isRevokedLocally (claims: { sub: string, fam: string, ep?: string }): boolean | undefined {
    if (peek === undefined) return undefined
    const familyRevoked = peek(familyKey(claims.fam))
    if (familyRevoked === undefined) return undefined
    const epoch = peek(userKey(claims.sub))
    if (epoch === undefined) return undefined
    return revokedBy(familyRevoked, epoch, claims)
  }

  async function isRevoked (claims: { sub: string, fam: string, ep?: string }): Promise<boolean> {
    const [familyRevoked, epoch] = await guard(() => Promise.all([
      store.get(familyKey(claims.fam)),
      store.get(userKey(claims.sub))
    ]))
    return revokedBy(familyRevoked, epoch, claims)
  }

  const hasIndex = store.hset !== undefined && store.hgetall !== undefined && store.hdel !== undefined

  // Markers only grow (max(current + 1, now)), so concurrent writers and
  // mirrors merging in any order agree on the newest one.
  async function advanceMarker (key: string): Promise<void> {
    if (store.advance !== undefined) {
      await store.advance(key, Date.now(), markerTtl)
      return
    }
    const current = Number(await store.get(key))
    await store.set(key, String(Math.max(Date.now(), Number.isSafeInteger(current) ? current + 1 : 0)), markerTtl)
  }

  async function revokeFamily (family: string, sub: string): Promise<void> {
    await guard(async () => {
      await advanceMarker(familyKey(family))
      if (hasIndex) await store.hdel!(sessionsKey(sub), family)
    })
  }

  interface Session { sub: string, fam: string, createdAt: number, epoch: string | undefined, metadata: SessionMetadata | undefined }

  async function mint ({ sub, fam, createdAt, epoch, metadata }: Session, roles: readonly string[] | undefined, claims: Record<string, unknown> | undefined): Promise<TokenPair> {
    const refreshJti = randomUUID()
    const record: RefreshRecord = { sub, fam, createdAt, roles, claims }
    const now = Date.now()
    const session: SessionRecord = { createdAt, lastRefreshedAt: now, expiresAt: now + config.refreshTtl * 1000, ip: clip(metadata?.ip), userAgent: clip(metadata?.userAgent) }
    await guard(async () => {
      await store.set(refreshKey(refreshJti), JSON.stringify(record), refreshRecordTtl)
      if (hasIndex) await store.hset!(sessionsKey(sub), fam, JSON.stringify(session), refreshRecordTtl)
    })
    const access: Record<string, unknown> = { ...claims, sub, jti: randomUUID(), fam, ep: epoch }
    if (roles !== undefined) access.roles = roles
    return {
      accessToken: jwt.signAccess(access),
      refreshToken: jwt.signRefresh({ sub, jti: refreshJti, fam, ep: epoch, [CSRF_CLAIM]: claims?.[CSRF_CLAIM] }),
      tokenType: 'Bearer',
      expiresIn: config.accessTtl,
      refreshExpiresIn: config.refreshTtl
    }
  }

  /**
   * The hot path of authenticate: synchronous (no promise, timer or round
   * trip) when the store answers revocation locally; a promise otherwise.
   */
  function verifyRequestToken (token: string, checkSyntax?: (token: string) => void): AccessTokenClaims | Promise<AccessTokenClaims> {
    const claims = jwt.verifyAccess(token, checkSyntax)
    const revoked = isRevokedLocally(claims)
    if (revoked === undefined) {
      return isRevoked(claims).then((remotely) => {
        if (remotely) throw new TokenRevokedError()
        return claims
      })
    }
    if (revoked) throw new TokenRevokedError()
    return claims
  }

  /** The user, from the cache when there (synchronously), else from findById. */
  function loadUser (id: string): AuthUser | Promise<AuthUser | null> {
    return userCache.get(id) ?? lookUpUser(id)
  }

  async function lookUpUser (id: string): Promise<AuthUser | null> {
    const found = await users.findById!(id)
    if (found === null || found === undefined) return null
    // FoundUser and AuthUser name the same type once JwtAuthTypes is augmented.
    const user = found as AuthUser
    userCache.set(id, user)
    return user
  }

  return {
    loadUser,

    async issue (user: IssuableUser, options: IssueOptions = {}): Promise<TokenPair> {
      const sub = userIdOf(user)
      checkClaims(options.claims)
      const roles = user.roles === undefined ? undefined : [...user.roles]
      const epoch = await guard(() => store.get(userKey(sub)))
      return mint({ sub, fam: randomUUID(), createdAt: Date.now(), epoch: epoch ?? undefined, metadata: options.metadata }, roles, options.claims)
    },

    verifyRequestToken,

    async verify (token: string): Promise<AccessTokenClaims> {
      return verifyRequestToken(token)
    },

    async refresh (token: string, metadata?: SessionMetadata): Promise<TokenPair> {
      const claims: RefreshTokenClaims = jwt.verifyRefresh(token)
      if (await isRevoked(claims)) throw new TokenRevokedError()
      // The atomic take is the rotation: of concurrent refreshes, one gets the record.
      const stored = await guard(() => store.take(refreshKey(claims.jti)))
      if (stored === null) {
        await revokeFamily(claims.fam, claims.sub)
        log.warn({ sub: claims.sub, family: claims.fam }, 'fastify-jwt-auth: refresh token reuse detected; family revoked')
        throw new RefreshTokenReusedError()
      }
      const record = parseRecord(stored)
      if (record?.sub !== claims.sub || record.fam !== claims.fam) throw new InvalidTokenError('The refresh token does not match its session')
      let roles = record.roles
      if (users.findById !== undefined) {
        // Fresh roles for the new access token; a user gone since login ends the session.
        const user = await loadUser(claims.sub) as (AuthUser & { roles?: readonly string[] }) | null
        if (user === null) throw new UserNotFoundError()
        roles = Array.isArray(user.roles) ? user.roles : undefined
      }
      return mint({ sub: claims.sub, fam: claims.fam, createdAt: record.createdAt, epoch: claims.ep, metadata }, roles, record.claims)
    },

    async revoke (token: string): Promise<void> {
      const { claims, type } = jwt.verifyAnyType(token)
      await revokeFamily(claims.fam, claims.sub)
      if (type === 'refresh') await guard(() => store.delete(refreshKey(claims.jti)))
    },

    async revokeAll (userId: string | number): Promise<void> {
      const id = String(userId)
      await guard(async () => {
        await advanceMarker(userKey(id))
        if (hasIndex) await store.delete(sessionsKey(id))
      })
      userCache.delete(id)
    },

    async sessions (userId: string | number): Promise<SessionInfo[]> {
      if (!hasIndex) throw new TypeError('sessions() needs a store with hset, hgetall and hdel (memoryStore and redisStore have them)')
      const sub = String(userId)
      const fields = await guard(() => store.hgetall!(sessionsKey(sub)))
      const now = Date.now()
      const families = Object.keys(fields)
      const revoked = await guard(() => Promise.all(families.map((family) => store.get(familyKey(family)))))
      const live: SessionInfo[] = []
      const stale: string[] = []
      families.forEach((family, i) => {
        const session = JSON.parse(fields[family]!) as SessionRecord
        if (session.expiresAt <= now || revoked[i] !== null) {
          stale.push(family)
          return
        }
        live.push({
          familyId: family,
          createdAt: new Date(session.createdAt).toISOString(),
          lastRefreshedAt: new Date(session.lastRefreshedAt).toISOString(),
          expiresAt: new Date(session.expiresAt).toISOString(),
          ...(session.ip === undefined ? {} : { ip: session.ip }),
          ...(session.userAgent === undefined ? {} : { userAgent: session.userAgent })
        })
      })
      // Expired and revoked families leave the index as they are found.
      if (stale.length > 0) await guard(() => Promise.all(stale.map((family) => store.hdel!(sessionsKey(sub), family))))
      return live.sort((a, b) => b.lastRefreshedAt.localeCompare(a.lastRefreshedAt))
    },

    async revokeSession (userId: string | number, familyId: string): Promise<boolean> {
      if (!hasIndex) throw new TypeError('revokeSession() needs a store with hset, hgetall and hdel (memoryStore and redisStore have them)')
      const sub = String(userId)
      const fields = await guard(() => store.hgetall!(sessionsKey(sub)))
      if (typeof familyId !== 'string' || !Object.hasOwn(fields, familyId)) return false
      await revokeFamily(familyId, sub)
      return true
    }
  }
}

export type Sessions = ReturnType<typeof createSessions>
