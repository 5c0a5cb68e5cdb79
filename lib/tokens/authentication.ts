import type { AcrLevel } from '../config/acr.js'
import { isScopeToken } from '../config/check.js'

/**
 * What one authentication of a user proved, and when: what issuance turns into a session's `amr`, `auth_time` and
 * `acr` claims. Every way in (the login routes, a second factor, reauthentication) hands its proofs to
 * `sessions.issue` through `LoginExtras.proofs`; a refresh keeps the claims they gave.
 */
export interface Proofs {
  /** RFC 8176 method of each proof, in the order made: `['pwd']` for a password, `['pwd', 'otp']` with a code. */
  amr: readonly string[]
  /** When the user made the last proof, in whole seconds since the epoch: the `auth_time` claim (OIDC Core 2). */
  authTime: number
}

/** The claims of a session's authentication, as tokens carry them. */
export interface AuthenticationClaims {
  amr?: string[]
  auth_time?: number
  acr?: string
}

/** The claims issuance sets from proofs: none of them may be given through `issue`'s `claims`. */
export const AUTHENTICATION_CLAIMS = ['amr', 'auth_time', 'acr'] as const

/** Now, as `auth_time` counts. */
export const nowInSeconds = (): number => Math.floor(Date.now() / 1000)

/** The proof of a password checked just now: what a password login gives its session. */
export const passwordProof = (): Proofs => ({ amr: ['pwd'], authTime: nowInSeconds() })

/** The `acr` of a session that used `amr`: the first level, strongest first, whose methods it used every one of. */
export function acrOf (amr: readonly string[], levels: readonly AcrLevel[]): string | undefined {
  return levels.find((level) => level.amr.every((method) => amr.includes(method)))?.value
}

/** The claims of a new authentication: `amr` (when it names a method), `auth_time`, `acr` (when a level fits). */
export function authenticationClaims (proofs: Proofs, levels: readonly AcrLevel[]): AuthenticationClaims {
  const amr = [...new Set(proofs.amr)]
  const acr = acrOf(amr, levels)
  return {
    ...(amr.length === 0 ? {} : { amr }),
    auth_time: proofs.authTime,
    ...(acr === undefined ? {} : { acr })
  }
}

/**
 * The proofs behind a token of the plugin's, to go on with in a new pair of its session (a password change): null
 * when it carries none (a token issued before they existed), so that none are made up.
 */
export function proofsOf (claims: Record<string, unknown>): Proofs | null {
  const { amr, auth_time: authTime } = claims
  if (typeof authTime !== 'number') return null
  return { amr: Array.isArray(amr) ? amr.filter(isScopeToken) : [], authTime }
}
