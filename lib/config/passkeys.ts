import { checkKeys, fail, isObject } from './check.js'
import { toSeconds, type Duration } from './duration.js'

export type PasskeyUserVerification = 'required' | 'preferred' | 'discouraged'

export interface PasskeysOptions {
  /** The relying party id: the site's registrable domain or a host of it (`example.com`), no scheme, no port. */
  rpID: string
  /** The name authenticators show beside the account. */
  rpName: string
  /**
   * The origins the browser may run the ceremonies on (`https://app.example.com`; http only on localhost), each a
   * host of `rpID`. An allowlist: never taken from a request's headers.
   */
  origins: string[]
  /** Whether the authenticator must verify the user (PIN, biometrics). Default 'preferred'. */
  userVerification?: PasskeyUserVerification
  /** How long a ceremony's challenge lasts, 10 s to 10 min; default '5m'. */
  timeout?: Duration
  /**
   * Registering a passkey needs a login (or POST /reauthenticate) at most this old (RFC 9470 `max_age`: past it,
   * 401 `insufficient_user_authentication`), so that a stolen session cannot add a way in. Default: any session.
   */
  registrationMaxAge?: Duration
}

export interface ResolvedPasskeys {
  rpID: string
  rpName: string
  origins: string[]
  userVerification: PasskeyUserVerification
  /** Seconds. */
  timeout: number
  /** Seconds, or null: any session registers. */
  registrationMaxAge: number | null
}

/** The `users` passkeys group: what the `passkeys` option needs of the users adapter, every one of them. */
export const PASSKEY_USER_CALLBACKS = [
  'passkeyUserHandle', 'listPasskeys', 'findPasskey', 'addPasskey', 'updatePasskey', 'removePasskey'
] as const

const OPTIONS = ['rpID', 'rpName', 'origins', 'userVerification', 'timeout', 'registrationMaxAge']
const USER_VERIFICATION = ['required', 'preferred', 'discouraged']
// A host name of letters, digits, hyphens and dots (an IDN in its ASCII form), lower case as browsers compare it.
const HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/

function resolveOrigin (value: unknown, rpID: string, option: string): string {
  const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined
  if (url === undefined || url.origin !== value) {
    fail(`${option} must be an origin such as 'https://app.example.com' (scheme, host, port; no path) ` +
      `(got ${JSON.stringify(value)})`)
  }
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && url.hostname === 'localhost'))) {
    fail(`${option} must be https (http only on localhost): WebAuthn needs a secure context (got ${value})`)
  }
  if (url.hostname !== rpID && !url.hostname.endsWith(`.${rpID}`)) {
    fail(`${option} must be passkeys.rpID (${rpID}) or a host under it (got ${value})`)
  }
  return value
}

/** `passkeys` option: null for none. `users` are the checked callbacks; `routes` whether the routes are on. */
export function resolvePasskeys (
  passkeys: unknown, users: Record<string, unknown>, routes: boolean
): ResolvedPasskeys | null {
  if (passkeys === undefined) return null
  if (!isObject(passkeys)) fail('passkeys must be an object such as { rpID, rpName, origins }')
  if (!routes) fail('passkeys needs the routes option: its ceremonies are routes under the prefix')
  checkKeys(passkeys, OPTIONS, 'passkeys')
  const { rpID, rpName, origins, userVerification = 'preferred' } = passkeys
  if (typeof rpID !== 'string' || !HOST.test(rpID)) {
    fail('passkeys.rpID must be a lower-case host name such as \'example.com\', no scheme or port ' +
      `(got ${JSON.stringify(rpID)})`)
  }
  if (typeof rpName !== 'string' || rpName.trim() === '' || rpName.length > 64) {
    fail('passkeys.rpName must be 1 to 64 characters: the name authenticators show')
  }
  if (!Array.isArray(origins) || origins.length === 0) {
    fail("passkeys.origins must be a non-empty array of origins such as ['https://app.example.com']")
  }
  const resolved = origins.map((origin, index) => resolveOrigin(origin, rpID, `passkeys.origins[${index}]`))
  if (typeof userVerification !== 'string' || !USER_VERIFICATION.includes(userVerification)) {
    fail(`passkeys.userVerification must be one of ${USER_VERIFICATION.join(', ')} (got ${String(userVerification)})`)
  }
  const timeout = toSeconds(passkeys.timeout ?? '5m', 'passkeys.timeout')
  if (timeout < 10 || timeout > 600) {
    fail(`passkeys.timeout must be from 10 s to 10 min (got ${String(passkeys.timeout)})`)
  }
  const { registrationMaxAge } = passkeys
  const maxAge = registrationMaxAge === undefined ? null : toSeconds(registrationMaxAge, 'passkeys.registrationMaxAge')
  const missing = ['findById', ...PASSKEY_USER_CALLBACKS].filter((name) => users[name] === undefined)
  if (missing.length > 0) {
    fail(`passkeys needs ${missing.map((name) => `users.${name}`).join(', ')} (kyselyUsers has them all)`)
  }
  return {
    rpID,
    rpName,
    origins: resolved,
    userVerification: userVerification as PasskeyUserVerification,
    timeout: Math.ceil(timeout),
    registrationMaxAge: maxAge
  }
}
