import { InvalidOptionError } from '../errors.js'

/** Every option error: an InvalidOptionError whose message names the option's full path. */
export function fail (message: string): never {
  throw new InvalidOptionError(message)
}

// RFC 6749 section 3.3 scope-token characters: what a scope, a role or a permission name may hold (and what a
// WWW-Authenticate scope attribute can carry unquoted).
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

export const isScopeToken = (name: unknown): name is string => typeof name === 'string' && SCOPE_TOKEN.test(name)

/** A non-empty list of scope tokens. */
export const isNameList = (names: unknown): names is string[] =>
  Array.isArray(names) && names.length > 0 && names.every(isScopeToken)

export function isObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** Edit distance, for the likely intended name of a misspelt option. */
function distance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

/** The known name `key` was most likely meant to be: the same but for case, or within a few edits. */
export function closestName (key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase()
  const sameButCase = known.find((name) => name.toLowerCase() === lower)
  if (sameButCase !== undefined) return sameButCase
  let best: string | undefined
  // About one edit in three characters, at least two: 'maxEntry' is 'maxEntries', 'somethingElse' is nothing.
  let bestDistance = Math.max(2, Math.ceil(key.length / 3)) + 1
  for (const name of known) {
    const edits = distance(lower, name.toLowerCase())
    if (edits < bestDistance) {
      best = name
      bestDistance = edits
    }
  }
  return best
}

/**
 * Refuses a key of `object` that is not in `known`: a misspelt option would
 * otherwise fall back to its default without a word. `path` is the option's
 * path ('' at the top level), as the message names it.
 */
export function checkKeys (
  object: object, known: readonly string[], path: string, raise: (message: string) => never = fail
): void {
  for (const key of Object.keys(object)) {
    if (known.includes(key)) continue
    const prefix = path === '' ? '' : `${path}.`
    const hint = closestName(key, known)
    raise(`unknown option ${prefix}${key}${hint === undefined ? '' : ` (did you mean ${prefix}${hint}?)`}`)
  }
}
