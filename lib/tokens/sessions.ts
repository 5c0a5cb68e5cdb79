import { randomUUID } from 'node:crypto'
import type { ResolvedOptions } from '../config/options.js'
import type { ResolvedStore } from '../stores/resolve.js'
import type { IssuableUser, IssueOptions, TokenPair } from '../types.js'
import { newCsrfToken } from '../request/cookies.js'
import { authenticationClaims, type Proofs } from './authentication.js'
import { COOKIE_LOGIN, type CookieLogin } from './cookie-login.js'
import type { Jwt } from './jwt.js'
import type { Pairs, PairClaims } from './pairs.js'
import {
  checkClaims, MFA_SETUP_CLAIM, proofsOfOptions, rolesOf, scopeOf, userIdOf
} from './issue-options.js'
import type { Revocation } from './revocation.js'
import { createSessionIndex } from './session-index.js'

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

// A reservation is used within one request: long enough for a slow users.create.
const RESERVATION_TTL = 60

/** The claims a new session's pair carries besides the plugin's own: the app's, the scope, the binding, the proofs. */
function extraClaims (
  config: ResolvedOptions, options: IssueOptions, extras: LoginExtras, csrfHash: string | undefined
): Record<string, unknown> {
  const scope = scopeOf(options.scope)
  const proofs = extras.proofs === undefined ? proofsOfOptions(options, config.clockTolerance) : extras.proofs
  return {
    ...options.claims,
    ...(scope === undefined ? {} : { scope }),
    ...(csrfHash === undefined ? {} : { csh: csrfHash }),
    ...(extras.mfaSetup === true ? { [MFA_SETUP_CLAIM]: true } : {}),
    // Kept with the refresh record: every refresh of the session carries them as they are.
    ...(proofs === null ? {} : authenticationClaims(proofs, config.acr))
  }
}

/**
 * Login sessions: a login starts a refresh family, recorded in the user's session index (session-index.ts); a
 * session ends on its own (revoke, end) or with all of the user's.
 */
export function createLoginSessions (
  config: ResolvedOptions, store: ResolvedStore, jwt: Jwt, pairs: Pairs, revocation: Revocation
) {
  const indexTtl = Math.ceil(config.refreshTtl + config.clockTolerance) + 1
  const index = createSessionIndex(config, store, revocation, indexTtl)

  return {
    ...index,

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
      const sub = userIdOf(user)
      checkClaims(options.claims)
      const roles = rolesOf(user)
      const fam = reservation?.fam ?? randomUUID()
      const extra = extraClaims(config, options, extras, extras.csrfHash ?? cookieLogin?.hash)
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
      await index.record(sub, fam, createdAt, options.metadata, { jti, generation })
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
    }
  }
}

export type LoginSessions = ReturnType<typeof createLoginSessions>
