import { checkKeys, fail, isObject, isScopeToken } from './check.js'

/**
 * RFC 8176 section 2: the registered Authentication Method Reference values. A session's `amr` names the proofs
 * its authentication used: `pwd` for a password, `otp` for a one-time code, `hwk` for a hardware-bound key, ...
 */
export const AMR_VALUES = ['face', 'fpt', 'geo', 'hwk', 'iris', 'kba', 'mca', 'mfa', 'otp', 'pin', 'pop', 'pwd',
  'rba', 'retina', 'sc', 'sms', 'swk', 'tel', 'user', 'vbm', 'wia'] as const

/** A registered RFC 8176 `amr` value. */
export type AmrValue = typeof AMR_VALUES[number]

/**
 * One authentication level the app names (the `acr` option). A session's `acr` is the `value` of the first entry,
 * strongest first, whose `amr` its proofs include every one of. Several adjacent entries may share a value: other
 * ways to reach one level (`{ value: 'mfa', amr: ['pwd', 'otp'] }`, then `{ value: 'mfa', amr: ['hwk'] }`).
 */
export interface AcrLevel {
  /** The `acr` claim, and what `authorize({ acr })` and the `acr_values` of a challenge name: `'mfa'`, a URI. */
  value: string
  /** The RFC 8176 methods a session must have used, all of them: `['pwd', 'otp']`. */
  amr: readonly AmrValue[]
}

const isAmrValue = (value: unknown): value is AmrValue => (AMR_VALUES as readonly unknown[]).includes(value)

function resolveLevel (level: unknown, index: number): AcrLevel {
  const path = `acr[${index}]`
  if (!isObject(level)) fail(`${path} must be { value, amr }, such as { value: 'mfa', amr: ['pwd', 'otp'] }`)
  checkKeys(level, ['value', 'amr'], path)
  // acr_values is a space-separated list in a quoted-string (RFC 9470 section 3): a scope token fits.
  if (!isScopeToken(level.value)) fail(`${path}.value must be a non-empty string without spaces, quotes or backslashes`)
  const { amr } = level
  if (!Array.isArray(amr) || amr.length === 0) fail(`${path}.amr must be a non-empty array of RFC 8176 values`)
  for (const value of amr) {
    if (!isAmrValue(value)) {
      fail(`${path}.amr: ${JSON.stringify(value)} is not an RFC 8176 value (one of ${AMR_VALUES.join(', ')})`)
    }
  }
  return { value: level.value, amr: [...new Set(amr as AmrValue[])] }
}

/** `acr` option: the levels, strongest first; [] when the app names none (tokens then carry no `acr`). */
export function resolveAcr (acr: unknown): AcrLevel[] {
  if (acr === undefined) return []
  if (!Array.isArray(acr) || acr.length === 0) {
    fail('acr must be a non-empty array of levels, strongest first, ' +
      'such as [{ value: \'mfa\', amr: [\'pwd\', \'otp\'] }]')
  }
  const levels = acr.map(resolveLevel)
  // The order ranks the levels (a stronger one meets a weaker requirement): one level's entries stay together.
  levels.forEach(({ value }, index) => {
    const first = levels.findIndex((level) => level.value === value)
    if (first < index - 1 && levels[index - 1]!.value !== value) {
      fail(`acr[${index}].value repeats acr[${first}].value (${value}) after another level: keep one level's ` +
        'entries together, strongest level first')
    }
  })
  return levels
}
