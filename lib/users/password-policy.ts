import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, type PasswordPolicy } from '../config/routes.js'
import { WeakPasswordError } from '../errors.js'

/** The bounds every new password meets, checked before anything else (no hashing of a megabyte). */
export function checkPasswordLength (password: unknown): asserts password is string {
  if (typeof password !== 'string') throw new WeakPasswordError('The password must be a string')
  // Characters as people count them (code points), not UTF-16 units.
  const length = [...password].length
  if (length < MIN_PASSWORD_LENGTH) {
    throw new WeakPasswordError(`The password must have at least ${MIN_PASSWORD_LENGTH} characters`)
  }
  if (length > MAX_PASSWORD_LENGTH) {
    throw new WeakPasswordError(`The password must have at most ${MAX_PASSWORD_LENGTH} characters`)
  }
}

/** The bounds, then the app's policy: register, change and reset all pass through here. */
export async function checkPasswordPolicy (
  policy: PasswordPolicy | undefined, password: unknown, username: string
): Promise<void> {
  checkPasswordLength(password)
  const reason = await policy?.(password, { username })
  if (typeof reason === 'string' && reason.length > 0) throw new WeakPasswordError(reason)
}
