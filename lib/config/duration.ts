import { parse } from '@lukeed/ms'
import { InvalidOptionError } from '../errors.js'

/** A duration: a string with a unit ('15m', '7d', '1 minute') or a number of seconds. */
export type Duration = string | number

// A unit is required: '15' alone would mean 15 ms to @lukeed/ms and 15 s to
// a reader, so it is refused rather than guessed.
const WITH_UNIT = /^\d+(?:\.\d+)?\s*[a-z]+$/i

/** Converts a duration option to seconds, or throws an error naming the option. */
export function toSeconds (value: unknown, option: string, { allowZero = false } = {}): number {
  let seconds: number | undefined
  if (typeof value === 'number') {
    seconds = value
  } else if (typeof value === 'string' && WITH_UNIT.test(value.trim())) {
    const ms = parse(value.trim())
    if (ms !== undefined) seconds = ms / 1000
  }
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0 || (seconds === 0 && !allowZero)) {
    throw new InvalidOptionError(`${option} must be a ${allowZero ? 'non-negative' : 'positive'} number of seconds or a duration string such as '15m' (got ${JSON.stringify(value)})`)
  }
  return seconds
}
