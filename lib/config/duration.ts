import { fail } from './check.js'

/** A duration: a number of seconds, or a string of parts such as '15m', '1h30m', '7d', '1 hour 30 minutes'. */
export type Duration = string | number

// One grammar for every duration option. Units are lower-case: '15M' (months? minutes?) is refused, not guessed.
const UNIT_SECONDS: Record<string, number> = {
  ms: 0.001,
  millisecond: 0.001,
  milliseconds: 0.001,
  s: 1,
  second: 1,
  seconds: 1,
  m: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hour: 3600,
  hours: 3600,
  d: 86_400,
  day: 86_400,
  days: 86_400,
  w: 604_800,
  week: 604_800,
  weeks: 604_800
}
const PART = /(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*/y
const GRAMMAR = "a duration such as '15m', '1h30m', '7d' or '1 hour' (units ms, s, m, h, d, w, or their names), " +
  'or a number of seconds'

function parseDuration (text: string): number | undefined {
  const source = text.trim()
  if (source === '') return undefined
  let seconds = 0
  PART.lastIndex = 0
  while (PART.lastIndex < source.length) {
    const part = PART.exec(source)
    const unit = part === null ? undefined : UNIT_SECONDS[part[2]!]
    if (part === null || unit === undefined) return undefined
    seconds += Number(part[1]) * unit
  }
  return seconds
}

/** Converts a duration option to seconds, or throws an error naming the option and the grammar. */
export function toSeconds (value: unknown, option: string, { allowZero = false } = {}): number {
  const seconds = typeof value === 'number' ? value : typeof value === 'string' ? parseDuration(value) : undefined
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0 || (seconds === 0 && !allowZero)) {
    fail(`${option} must be ${allowZero ? '0 or ' : ''}${GRAMMAR} (got ${JSON.stringify(value)})`)
  }
  return seconds
}

/** A duration option in whole milliseconds, as timers take them, within `min` and `max` (ms). */
export function toMilliseconds (
  value: unknown, option: string, { min, max = Infinity }: { min: number, max?: number }
): number {
  const ms = Math.round(toSeconds(value, option, { allowZero: min === 0 }) * 1000)
  if (ms < min) fail(`${option} must be at least ${min < 1000 ? `${min}ms` : `${min / 1000}s`} (got ${String(value)})`)
  if (ms > max) fail(`${option} must be at most ${max / 1000}s (got ${String(value)})`)
  return ms
}

// The maxima are a day or more, so is anything over them.
const describe = (seconds: number): string => `${(seconds / 86_400).toFixed(1)} days`

/**
 * A token lifetime: whole seconds (a JWT's `exp` is), at least one, at most `maxSeconds`. A large number is
 * most often milliseconds written where seconds are meant: the message says so.
 */
export function toLifetime (value: unknown, option: string, maxSeconds: number): number {
  const seconds = toSeconds(value, option)
  const given = JSON.stringify(value)
  if (seconds < 1) fail(`${option} must be at least 1 second (got ${given}: such tokens expire at birth)`)
  if (!Number.isInteger(seconds)) fail(`${option} must be a whole number of seconds (got ${JSON.stringify(value)})`)
  if (seconds > maxSeconds) {
    const hint = typeof value === 'number'
      ? `; numbers are seconds: ${value} ms would be '${Math.round(value / 1000)}s'`
      : ''
    fail(`${option} must be at most ${describe(maxSeconds)} (got ${given}, ${describe(seconds)})${hint}`)
  }
  return seconds
}
