import { isNameList, isScopeToken } from '../config/check.js'
import type { AccessTokenClaims, IssuableUser, IssueOptions } from '../types.js'
import { AUTHENTICATION_CLAIMS, nowInSeconds, type Proofs } from './authentication.js'

/** The claim of a session whose user must set up a second factor first: only the plugin's routes set it. */
export const MFA_SETUP_CLAIM = 'mfa_setup'

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

// `idp` names the provider a session began at: the oauth routes set it, and the plugin's own flows carry it on with
// the session's claims (a second step, a password change, a reauthentication). An app's issue() cannot give it.
const ROUTE_CLAIMS: Record<string, string> = { idp: ' (a sign-in with a provider sets it)' }

/** The claims of issue() as an app calls it: the ones the plugin's routes set are refused too. */
export function checkAppClaims (claims: unknown): void {
  // Not an object: issue's own check says so.
  if (claims === null || typeof claims !== 'object') return
  const name = Object.keys(claims).find((claim) => Object.hasOwn(ROUTE_CLAIMS, claim))
  if (name !== undefined) {
    throw new TypeError(`issue: the ${name} claim is set by the plugin and cannot be given${ROUTE_CLAIMS[name]!}`)
  }
}

// Claims the plugin sets itself, and the two issue() takes apart (roles from the user, the scope): the rest of a
// token's claims (the app's own) go on with its session.
const PLUGIN_CLAIMS = new Set([...RESERVED_CLAIMS, 'roles', 'scope'])

/** What a token's session carries into a new pair of it (a password change, a reauthentication): app claims, scope. */
export function carriedOptions (claims: AccessTokenClaims): IssueOptions {
  const own = Object.fromEntries(Object.entries(claims).filter(([name]) => !PLUGIN_CLAIMS.has(name)))
  return { claims: own, ...(typeof claims.scope === 'string' ? { scope: claims.scope } : {}) }
}

export function userIdOf (user: IssuableUser): string {
  const id = user?.id
  if ((typeof id !== 'string' && typeof id !== 'number') || String(id).length === 0) {
    throw new TypeError('issue: user.id must be a non-empty string or a number')
  }
  return String(id)
}

// A string is not a list of roles: spread, 'admin' would become ['a', 'd', 'm', 'i', 'n'].
export function rolesOf (user: IssuableUser): string[] | undefined {
  const { roles } = user
  if (roles === undefined) return undefined
  if (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string')) {
    throw new TypeError('issue: user.roles must be an array of strings')
  }
  return [...roles]
}

export function scopeOf (scope: IssueOptions['scope']): string | undefined {
  if (scope === undefined) return undefined
  const names = typeof scope === 'string' ? scope.split(' ') : scope
  // Scope tokens, joined by single spaces in the `scope` claim (RFC 9068 section 2.2.3).
  if (!isNameList(names)) {
    throw new TypeError('issue: options.scope must be scope names (a space-separated string or an array of them)')
  }
  return [...new Set(names)].join(' ')
}

export function checkClaims (claims: Record<string, unknown> | undefined): void {
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
export function proofsOfOptions ({ amr, authTime }: IssueOptions, clockTolerance: number): Proofs | null {
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
