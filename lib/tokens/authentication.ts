import type { AcrLevel } from '../config/acr.js'
import { isScopeToken } from '../config/check.js'
import type { SessionMetadata } from '../types.js'

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

/**
 * A proof other than the password that `POST /reauthenticate` accepts: a one-time code of the user's (a TOTP code,
 * a recovery code). The second-factor feature registers one at register (`ReauthenticationVerifiers.code`); without
 * it, a body with `code` answers 400.
 */
export interface CodeVerifier {
  /**
   * Checks `code` for the user (`sub`), counting a failure toward the factor's own lockout, and resolves with the
   * RFC 8176 methods the code proves (`['otp']`): the new pair's `amr`, after `'pwd'` when the body had the password
   * too. A wrong, spent or ill-formed code rejects with the factor's own 4xx error (a 401; a 429 once locked), a
   * failing store with a 503. It emits its own events, and never logs nor emits the code.
   */
  verify (userId: string, code: string, metadata: SessionMetadata): Promise<readonly string[]>
}

/**
 * The proofs `POST /reauthenticate` accepts besides the password: one object per app, filled in at register by the
 * features that have one (`verifiers.code = ...` in plugin.ts), read at each request.
 */
export interface ReauthenticationVerifiers {
  code?: CodeVerifier | undefined
}

/**
 * Each app's verifiers, by its `app.jwtAuth`: for the code inside the package (and its tests) that has the app but
 * not the plugin's closure. Not exported from the package.
 */
export const reauthenticationVerifiers = new WeakMap<object, ReauthenticationVerifiers>()
