import { randomUUID } from 'node:crypto'
import { isNameList, isScopeToken } from '../config/check.js'
import type { ResolvedOptions } from '../config/options.js'
import type { ResolvedStore } from '../stores/resolve.js'
import type {
  AccessTokenClaims, IssuableUser, IssueOptions, SessionInfo, SessionMetadata, TokenPair
} from '../types.js'
import { newCsrfToken } from '../request/cookies.js'
import { AUTHENTICATION_CLAIMS, authenticationClaims, nowInSeconds, type Proofs } from './authentication.js'
import { COOKIE_LOGIN, type CookieLogin } from './cookie-login.js'
import type { Jwt } from './jwt.js'
import type { Pairs, PairClaims } from './pairs.js'
import type { Revocation } from './revocation.js'

/** What the store keeps for a live refresh token (the token itself is never stored). */
export interface RefreshRecord {
  sub: string
  fam: string
  createdAt: number
  roles?: readonly string[]
  claims?: Record<string, unknown>
  /** The refresh token this one succeeded. */
  parent?: string
}

/** What the session index keeps of a login session. */
interface SessionRecord {
  createdAt: number
  lastRefreshedAt: number
  expiresAt: number
  ip?: string
  userAgent?: string
  /** The session's latest refresh token: what a reauthentication spends. Absent from sessions of earlier versions. */
  head?: Head
}

/** A session's latest refresh token: its id (`jti`) and its place in the family (`gen`). */
export interface Head { jti: string, generation: number }

/** How `issue` stores the new pair's refresh record: `refreshTokens.create`, unless told otherwise. */
export type RecordWriter = (family: string, jti: string, record: string, ttlSeconds: number) => Promise<void>

/** The session a new pair continues (a reauthentication): what it keeps of it. */
export interface Continuation {
  /** The revocation epoch of the caller's token: a revokeAll since then ends the new pair too. */
  epoch: string | undefined
  /** When the session started, if known. */
  createdAt: number | undefined
  /** The new refresh token's place in its family (`gen`). */
  generation: number
}

/** Room for a session taken ahead of it: its family and refresh token id. */
export interface Reservation { fam: string, jti: string }

/** What the plugin's own routes add to a login: a reservation, the CSRF binding of a cookie session, the proofs. */
export interface LoginExtras {
  reservation?: Reservation | undefined
  /** Hash of the session's CSRF token: the `csh` claim, which `issue` refuses from anyone else. */
  csrfHash?: string | undefined
  /**
   * What the attempt proved: the session's `amr`, `auth_time` and `acr` (over `options.amr` and `authTime`). A
   * login route gives `{ amr: ['pwd'], authTime: nowInSeconds() }`; null gives a session no authentication claims
   * (a password change going on with a token that has none: none are made up).
   */
  proofs?: Proofs | null | undefined
  /** With `reservation` (its family): the session this pair continues, instead of a new login's epoch and start. */
  continues?: Continuation | undefined
  /** Stores the refresh record instead of `refreshTokens.create` (a reauthentication spends the previous token). */
  writeRecord?: RecordWriter | undefined
  /** mfa.required: a session that reaches the MFA setup routes only (the MFA_SETUP_CLAIM, kept by refresh). */
  mfaSetup?: boolean | undefined
  /**
   * The reservation's family is a session that goes on under a new epoch (a password change keeps it): the new
   * token's generation goes on above the family's, not from 0. (A reauthentication gives `continues.generation`.)
   */
  goesOn?: boolean | undefined
}

/**
 * Where a session that goes on in its family starts again: above every generation it had (`known`). Its earlier
 * tokens are then behind it (a reuse), and a rotation of the new pair that a failover loses is unknown, not a reuse.
 * A store that keeps no generations answers MAX_SAFE_INTEGER (every missing record is a reuse): 0 then.
 */
export function generationAbove (...known: number[]): number {
  const next = Math.max(...known) + 1
  return Number.isSafeInteger(next) ? next : 0
}

/** The claim of a session whose user must set up a second factor first: only the plugin's routes set it. */
export const MFA_SETUP_CLAIM = 'mfa_setup'

// A reservation is used within one request: long enough for a slow users.create.
const RESERVATION_TTL = 60

// `csh` binds a cookie session to its CSRF token: only the plugin's routes set it. The authentication claims come
// from proofs (issue's amr and authTime), so that no extra claim can pass for one.
export const RESERVED_CLAIMS = new Set(
  ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'fam', 'ep', 'csh', MFA_SETUP_CLAIM, ...AUTHENTICATION_CLAIMS]
)
const FROM_PROOFS: Record<string, string> = {
  amr: ' (give options.amr)',
  auth_time: ' (give options.authTime)',
  acr: ' (it follows from options.amr and the acr option)'
}

// Claims the plugin sets itself, and the two issue() takes apart (roles from the user, the scope): the rest of a
// token's claims (the app's own) go on with its session.
const PLUGIN_CLAIMS = new Set([...RESERVED_CLAIMS, 'roles', 'scope'])

/** What a token's session carries into a new pair of it (a password change, a reauthentication): app claims, scope. */
export function carriedOptions (claims: AccessTokenClaims): IssueOptions {
  const own = Object.fromEntries(Object.entries(claims).filter(([name]) => !PLUGIN_CLAIMS.has(name)))
  return { claims: own, ...(typeof claims.scope === 'string' ? { scope: claims.scope } : {}) }
}

// Request details are stored as given, but bounded.
const clip = (value: unknown): string | undefined => typeof value === 'string' ? value.slice(0, 256) : undefined

function userIdOf (user: IssuableUser): string {
  const id = user?.id
  if ((typeof id !== 'string' && typeof id !== 'number') || String(id).length === 0) {
    throw new TypeError('issue: user.id must be a non-empty string or a number')
  }
  return String(id)
}

// A string is not a list of roles: spread, 'admin' would become ['a', 'd', 'm', 'i', 'n'].
function rolesOf (user: IssuableUser): string[] | undefined {
  const { roles } = user
  if (roles === undefined) return undefined
  if (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string')) {
    throw new TypeError('issue: user.roles must be an array of strings')
  }
  return [...roles]
}

function scopeOf (scope: IssueOptions['scope']): string | undefined {
  if (scope === undefined) return undefined
  const names = typeof scope === 'string' ? scope.split(' ') : scope
  // Scope tokens, joined by single spaces in the `scope` claim (RFC 9068 section 2.2.3).
  if (!isNameList(names)) {
    throw new TypeError('issue: options.scope must be scope names (a space-separated string or an array of them)')
  }
  return [...new Set(names)].join(' ')
}

function checkClaims (claims: Record<string, unknown> | undefined): void {
  if (claims === undefined) return
  if (claims === null || typeof claims !== 'object') throw new TypeError('issue: options.claims must be an object')
  for (const name of Object.keys(claims)) {
    if (RESERVED_CLAIMS.has(name)) {
      const hint = Object.hasOwn(FROM_PROOFS, name) ? FROM_PROOFS[name]! : ''
      throw new TypeError(`issue: the ${name} claim is set by the plugin and cannot be given${hint}`)
    }
  }
  const { roles } = claims
  if (roles !== undefined && !(Array.isArray(roles) && roles.every((role) => typeof role === 'string'))) {
    throw new TypeError('issue: options.claims.roles must be an array of strings')
  }
}

/**
 * The proofs `issue` is told of: `amr` (RFC 8176 values) and `authTime` (now when only `amr` is given); none
 * without either.
 */
function proofsOfOptions ({ amr, authTime }: IssueOptions, clockTolerance: number): Proofs | null {
  // Nothing stated, nothing claimed: a pair minted for another reason (a legacy token traded, an app's own refresh)
  // must not look like a fresh authentication to authorize({ maxAge }).
  if (amr === undefined && authTime === undefined) return null
  if (amr === undefined) amr = []
  if (!Array.isArray(amr) || !amr.every(isScopeToken)) {
    throw new TypeError('issue: options.amr must be an array of RFC 8176 method names, such as [\'pwd\', \'otp\']')
  }
  if (authTime === undefined) return { amr, authTime: nowInSeconds() }
  const ms = authTime instanceof Date ? authTime.getTime() : NaN
  // A future auth_time would pass every maxAge until then.
  if (!Number.isFinite(ms) || ms > Date.now() + clockTolerance * 1000) {
    throw new TypeError('issue: options.authTime must be a valid Date, not in the future')
  }
  return { amr, authTime: Math.floor(ms / 1000) }
}

/**
 * Login sessions: a login starts a refresh family; the per-user index lists
 * the live ones (no keyspace scan), and each can be ended on its own.
 */
export function createLoginSessions (
  config: ResolvedOptions, store: ResolvedStore, jwt: Jwt, pairs: Pairs, revocation: Revocation
) {
  const indexTtl = Math.ceil(config.refreshTtl + config.clockTolerance) + 1

  /** Records (or refreshes) a session in the user's index; `head`: its latest refresh token. */
  async function record (
    sub: string, fam: string, createdAt: number, metadata: SessionMetadata | undefined, head: Head
  ): Promise<void> {
    const now = Date.now()
    const session: SessionRecord = {
      createdAt,
      lastRefreshedAt: now,
      expiresAt: now + config.refreshTtl * 1000,
      ip: clip(metadata?.ip),
      userAgent: clip(metadata?.userAgent),
      head
    }
    await store.sessions.put(sub, fam, JSON.stringify(session), indexTtl)
  }

  return {
    record,

    /** What the index knows of one session of the user: its start and its latest refresh token; undefined if none. */
    async current (userId: string, familyId: string): Promise<Pick<SessionRecord, 'createdAt' | 'head'> | undefined> {
      const fields = await store.sessions.list(userId)
      if (!Object.hasOwn(fields, familyId)) return undefined
      const { createdAt, head } = JSON.parse(fields[familyId]!) as SessionRecord
      return { createdAt, head }
    },

    /**
     * Takes room for a session before what must not happen without one (register
     * creates the user after this): a full store refuses here, before the user exists.
     */
    async reserve (): Promise<Reservation & { release: () => Promise<void> }> {
      const reservation = { fam: randomUUID(), jti: randomUUID() }
      await store.refreshTokens.create(reservation.fam, reservation.jti, '{}', RESERVATION_TTL)
      return { ...reservation, release: () => store.refreshTokens.discard(reservation.fam, reservation.jti) }
    },

    /** Starts a login session: a new family (or the reserved one), its first pair. */
    async issue (user: IssuableUser, options: IssueOptions = {}, extras: LoginExtras = {}): Promise<TokenPair> {
      const { reservation, continues } = extras
      // The testing kit's cookie session (cookie-login.ts): bound to a CSRF token made here, as login does.
      const cookieLogin = (options as { [COOKIE_LOGIN]?: unknown })[COOKIE_LOGIN] === true && config.cookies !== null
        ? newCsrfToken()
        : undefined
      const csrfHash = extras.csrfHash ?? cookieLogin?.hash
      const sub = userIdOf(user)
      checkClaims(options.claims)
      const roles = rolesOf(user)
      const fam = reservation?.fam ?? randomUUID()
      const scope = scopeOf(options.scope)
      const proofs = extras.proofs === undefined ? proofsOfOptions(options, config.clockTolerance) : extras.proofs
      const extra = {
        ...options.claims,
        ...(scope === undefined ? {} : { scope }),
        ...(csrfHash === undefined ? {} : { csh: csrfHash }),
        ...(extras.mfaSetup === true ? { [MFA_SETUP_CLAIM]: true } : {}),
        // Kept with the refresh record: every refresh of the session carries them as they are.
        ...(proofs === null ? {} : authenticationClaims(proofs, config.acr))
      }
      const epoch = continues === undefined ? await revocation.epochOf(sub) : continues.epoch
      const generation = continues?.generation ??
        (extras.goesOn === true ? generationAbove(await store.refreshTokens.generation(fam)) : 0)
      const pairInput = { sub, fam, epoch, roles, claims: extra, generation }
      const claims: PairClaims = pairs.claimsFor(pairInput, reservation?.jti)
      const createdAt = continues?.createdAt ?? Date.now()
      const refreshRecord: RefreshRecord = { sub, fam, createdAt, roles, claims: extra }
      // Over the reservation, if any: a write in place needs no room.
      const jti = claims.refresh.jti as string
      const write: RecordWriter = extras.writeRecord ?? ((...args) => store.refreshTokens.create(...args))
      await write(fam, jti, JSON.stringify(refreshRecord), indexTtl)
      await record(sub, fam, createdAt, options.metadata, { jti, generation })
      const pair = pairs.sign(claims)
      if (cookieLogin === undefined) return pair
      const login: CookieLogin = { csrfToken: cookieLogin.token, cookies: config.cookies! }
      return Object.assign(pair, { [COOKIE_LOGIN]: login })
    },

    /** Ends the session of an access or refresh token, expired or not (a stale client can still log out). */
    async revoke (token: string): Promise<{ sub: string, fam: string }> {
      const { claims, type } = jwt.verifyAnyType(token)
      await revocation.revokeFamily(claims.fam, claims.sub)
      if (type === 'refresh') await store.refreshTokens.discard(claims.fam, claims.jti)
      return claims
    },

    async list (userId: string | number): Promise<SessionInfo[]> {
      const sub = String(userId)
      const fields = await store.sessions.list(sub)
      const now = Date.now()
      const families = Object.keys(fields)
      const revoked = await Promise.all(families.map((family) => store.revocations.read('family', family)))
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
      await Promise.all(stale.map((family) => store.sessions.remove(sub, family)))
      return live.sort((a, b) => b.lastRefreshedAt.localeCompare(a.lastRefreshedAt))
    },

    async end (userId: string | number, familyId: string): Promise<boolean> {
      const sub = String(userId)
      const fields = await store.sessions.list(sub)
      if (typeof familyId !== 'string' || !Object.hasOwn(fields, familyId)) return false
      await revocation.revokeFamily(familyId, sub)
      return true
    }
  }
}

export type LoginSessions = ReturnType<typeof createLoginSessions>
