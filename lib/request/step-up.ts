import type { AcrLevel } from '../config/acr.js'
import { isNameList, isScopeToken } from '../config/check.js'
import { toSeconds, type Duration } from '../config/duration.js'
import { InsufficientUserAuthenticationError } from '../errors.js'
import type { AuthContext } from '../types.js'

/** What `authorize` may require of how the session authenticated (RFC 9470). */
export interface StepUpRequirement {
  /**
   * The user authenticated at most this long ago (the token's `auth_time`): `'5m'`, or seconds. A token without
   * `auth_time` never meets it.
   */
  maxAge?: Duration
  /** RFC 8176 methods the session used (the `amr` claim): any one of them, all of them with `all: true`. */
  amr?: readonly string[]
  /**
   * The level (the `acr` claim): one of these. For the plugin's own tokens a stronger level of the `acr` option meets
   * it too; another issuer's tokens must name one of them.
   */
  acr?: string | readonly string[]
}

/** What the step-up checks are told once, at register. */
export interface StepUpConfig {
  /** The `acr` option's levels, strongest first. */
  acr: readonly AcrLevel[]
  clockTolerance: number
  /** Tokens of other issuers (trusted issuers, legacy) may come: their acr values are their own. */
  otherIssuers: boolean
}

interface CheckedStepUp {
  maxAge: number | undefined
  amr: readonly string[] | undefined
  acr: readonly string[] | undefined
}

export const STEP_UP_KEYS = ['maxAge', 'amr', 'acr'] as const

function checkAcr (acr: unknown, { acr: levels, otherIssuers }: StepUpConfig): readonly string[] | undefined {
  if (acr === undefined) return undefined
  const values = typeof acr === 'string' ? [acr] : acr
  // acr_values of the challenge: scope tokens, space-separated.
  if (!isNameList(values)) {
    throw new TypeError('authorize: acr must be a level or a non-empty array of them, without spaces or quotes')
  }
  // Only the app's own levels reach its tokens: another name is a typo, unless other issuers name their own.
  const unknown = values.find((value) => !levels.some((level) => level.value === value))
  if (unknown !== undefined && !otherIssuers) {
    throw new TypeError(`authorize: acr ${unknown} is not a level of the acr option (${
      levels.length === 0 ? 'none is given' : levels.map((level) => level.value).join(', ')})`)
  }
  return values
}

/** The step-up part of a requirement, checked where the route is declared. */
export function checkStepUp (requirement: StepUpRequirement, config: StepUpConfig): CheckedStepUp | undefined {
  const { maxAge, amr, acr } = requirement
  if (maxAge === undefined && amr === undefined && acr === undefined) return undefined
  let seconds: number | undefined
  if (maxAge !== undefined) {
    seconds = toSeconds(maxAge, 'authorize: maxAge')
    // max_age in the challenge is whole seconds (RFC 9470 section 3).
    if (!Number.isInteger(seconds)) throw new TypeError('authorize: maxAge must be a whole number of seconds')
  }
  if (amr !== undefined && !isNameList(amr)) {
    throw new TypeError('authorize: amr must be a non-empty array of RFC 8176 method names, such as [\'otp\']')
  }
  return { maxAge: seconds, amr, acr: checkAcr(acr, config) }
}

/**
 * Checks a step-up requirement against the claims `authenticate` already verified (nothing is fetched): the
 * error to throw, with what its RFC 9470 challenge asks for, or undefined when the session's authentication is
 * enough.
 */
export function createStepUpCheck (stepUp: CheckedStepUp, all: boolean, config: StepUpConfig) {
  const { maxAge, amr, acr } = stepUp
  const toleranceMs = config.clockTolerance * 1000
  // The rank of a level: the index of its first entry (strongest first). -1: not one of the app's.
  const rankOf = (value: string): number => config.acr.findIndex((level) => level.value === value)
  const weakestRank = acr === undefined ? -1 : Math.max(...acr.map(rankOf))
  const challenge = { maxAge, acrValues: acr?.join(' ') }

  function levelMet ({ claims, issuer }: AuthContext): boolean {
    const held = claims.acr
    if (!isScopeToken(held)) return false
    if (acr!.includes(held)) return true
    // A stronger level of the app's own meets a weaker one; another issuer's values are only its own.
    const rank = rankOf(held)
    return issuer === undefined && rank !== -1 && rank < weakestRank
  }

  function methodsMet ({ claims }: AuthContext): boolean {
    const used = Array.isArray(claims.amr) ? claims.amr : []
    const holds = (method: string): boolean => used.includes(method)
    return all ? amr!.every(holds) : amr!.some(holds)
  }

  function recent ({ claims }: AuthContext): boolean {
    const authTime = claims.auth_time
    if (typeof authTime !== 'number' || !Number.isFinite(authTime)) return false
    const now = Date.now()
    const at = authTime * 1000
    // An auth_time in the future would stay recent until then: refused.
    return at <= now + toleranceMs && now - at <= maxAge! * 1000 + toleranceMs
  }

  const fail = (description: string): Error =>
    Object.assign(new InsufficientUserAuthenticationError(description), challenge)

  return function check (auth: AuthContext): Error | undefined {
    // An old set-up's tokens went through none of this plugin's proofs: whatever they claim, a login is needed.
    if (auth.issuer === 'legacy') return fail('A new login is required')
    // The strongest demand first: the new authentication it asks for is recent too.
    if (acr !== undefined && !levelMet(auth)) return fail('A different authentication level is required')
    if (amr !== undefined && !methodsMet(auth)) {
      return fail(`Authentication with ${amr.join(all ? ' and ' : ' or ')} is required`)
    }
    if (maxAge !== undefined && !recent(auth)) return fail('More recent authentication is required')
    return undefined
  }
}
