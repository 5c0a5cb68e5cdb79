import { InvalidUsernameError } from '../errors.js'

// Marks (accents) and default-ignorable code points (zero-width characters, joiners, bidi controls, variation
// selectors): what NFKD leaves of an accented letter beside its base, and what a reader cannot see.
const INVISIBLE = /[\p{M}\p{Default_Ignorable_Code_Point}]/gu

/**
 * The form of a login name that its look-alikes share: compatibility forms
 * (full-width letters, ligatures) decomposed (NFKD), marks and invisible
 * characters removed, spaces trimmed and collapsed, lower-cased. `Alice`,
 * `alicé`, `ａｌｉｃｅ`, `alice\u200b` and ` alice ` all fold to `alice`.
 *
 * The plugin counts the lockout's name key on it. Store it with each user in
 * a column with a unique index, so that `users.create` refuses a name that
 * folds like an existing one (throw `UsernameTakenError`): otherwise a
 * look-alike account can be registered next to another. `users.findByLogin`
 * may look users up by it, so that every spelling of a name logs in.
 */
export function foldLogin (login: string): string {
  return login.normalize('NFKD').replace(INVISIBLE, '').trim().replace(/\s+/g, ' ').toLowerCase()
}

// Characters a reader cannot see or that break the text around them: controls and format characters (bidi
// overrides), line separators, default-ignorable code points (zero-width, Hangul fillers), lone surrogates.
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Cs}]/u

/**
 * A new username (POST /register) is one a reader can tell apart: no leading or trailing space, no hidden
 * character, something left once folded. Names that fold alike are the adapter's unique index's to refuse.
 */
export function checkNewUsername (username: string): void {
  if (username.trim() !== username) throw new InvalidUsernameError('The username must not start or end with a space')
  if (HIDDEN.test(username)) {
    throw new InvalidUsernameError('The username must not contain invisible or control characters')
  }
  if (foldLogin(username) === '') throw new InvalidUsernameError('The username must have a visible character')
}
