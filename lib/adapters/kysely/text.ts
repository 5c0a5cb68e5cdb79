import { InvalidRequestError, InvalidUsernameError } from '../../errors.js'

// What no column of the three databases takes as it is: NUL (PostgreSQL refuses it in text) and lone surrogates
// (a driver writes them as U+FFFD, so the value read back would not be the value written).
const UNSTORABLE = /[\0\p{Cs}]/u

/** Length in code points, as varchar(n) counts on PostgreSQL and MySQL (SQLite does not count). */
const codePoints = (text: string): number => text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0)

/** Whether `text` can be stored as it is in a column of `max` code points. */
export const fits = (text: string, max: number): boolean =>
  text.length <= max || (text.length <= 2 * max && codePoints(text) <= max)

export const isStorable = (text: string): boolean => !UNSTORABLE.test(text)

/** A value for a lookup: one that a column can hold, or undefined, which finds nothing (no query is made). */
export function lookupKey (value: unknown, max: number): string | undefined {
  return typeof value === 'string' && fits(value, max) && isStorable(value) ? value : undefined
}

/**
 * A value to write: refused with a 400 before the query when the column cannot hold it, so that no input a client
 * can send reaches the database as an error (a 500).
 */
export function storedText (value: string, max: number, field: string): string {
  const refuse = field === 'username'
    ? (reason: string) => new InvalidUsernameError(`The username ${reason}`)
    : (reason: string) => new InvalidRequestError(`${field} ${reason}`)
  if (!isStorable(value)) throw refuse('must not contain NUL or a lone surrogate')
  if (!fits(value, max)) throw refuse(`must be at most ${max} characters`)
  return value
}
