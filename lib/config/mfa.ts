import { Buffer } from 'node:buffer'
import type { AuthUser } from '../types.js'
import { checkKeys, fail, isObject } from './check.js'

/** One key of a list (rotation): the first encrypts, each decrypts what carries its id. */
export interface MfaEncryptionKey {
  /** Stored with every secret it encrypts: 1 to 32 letters, digits, `_` or `-`. */
  id: string
  /** At least 32 bytes. */
  key: string | Buffer
}

export interface MfaTotpOptions {
  /** The name authenticator apps show beside the account; default the `issuer` option, else the realm. */
  issuer?: string
  /** Digits of a code, 6 to 8; default 6. */
  digits?: number
  /** Seconds a code lasts, 15 to 120; default 30. */
  period?: number
  /** Time steps accepted before and after the current one (clock drift), 0 to 3; default 1. */
  window?: number
}

export interface MfaOptions {
  /**
   * Encrypts TOTP secrets at rest (AES-256-GCM) and keys the recovery codes' hashes: a string or Buffer of at
   * least 32 random bytes (its id is `default`), or a list of `{ id, key }` to rotate: the first encrypts, each
   * decrypts the secrets stored under its id.
   */
  encryptionKey: string | Buffer | MfaEncryptionKey[]
  totp?: MfaTotpOptions
  recoveryCodes?: {
    /** Codes given at confirmation and at each regeneration, 4 to 32; default 10. */
    count?: number
  }
  /**
   * Every user (true), or those for whom the function says so, must have a second factor: until they confirm
   * one, their tokens reach the MFA setup routes only. Default false.
   */
  required?: boolean | ((user: AuthUser) => boolean | Promise<boolean>)
}

export interface ResolvedMfa {
  /** The first encrypts and keys new recovery codes. */
  keys: Array<{ id: string, key: Buffer }>
  totp: { issuer: string, digits: number, period: number, window: number }
  recoveryCodes: { count: number }
  required: ((user: AuthUser) => boolean | Promise<boolean>) | null
}

const MIN_KEY_BYTES = 32
const KEY_ID = /^[\w-]{1,32}$/
/** The id of a key given alone: list it under this id beside the new one to rotate. */
export const DEFAULT_KEY_ID = 'default'

function resolveKey (key: unknown, option: string): Buffer {
  if (typeof key !== 'string' && !Buffer.isBuffer(key)) {
    fail(`${option} must be a string or a Buffer of at least ${MIN_KEY_BYTES} random bytes` +
      `${option === 'mfa.encryptionKey' ? ', or an array of { id, key }' : ''}`)
  }
  const bytes = Buffer.from(key)
  if (bytes.length < MIN_KEY_BYTES) {
    fail(`${option} must be at least ${MIN_KEY_BYTES} bytes (got ${bytes.length}); generate one with: ` +
      `node -e "console.log(require('crypto').randomBytes(${MIN_KEY_BYTES}).toString('base64'))"`)
  }
  return bytes
}

function resolveKeyList (list: unknown[]): ResolvedMfa['keys'] {
  if (list.length === 0) fail('mfa.encryptionKey must not be an empty array: its first entry encrypts')
  const keys = list.map((entry, index) => {
    const option = `mfa.encryptionKey[${index}]`
    if (!isObject(entry)) fail(`${option} must be { id, key }`)
    checkKeys(entry, ['id', 'key'], option)
    if (typeof entry.id !== 'string' || !KEY_ID.test(entry.id)) {
      fail(`${option}.id must be 1 to 32 letters, digits, _ or - (got ${JSON.stringify(entry.id)})`)
    }
    return { id: entry.id, key: resolveKey(entry.key, `${option}.key`) }
  })
  keys.forEach(({ id, key }, index) => {
    const sameId = keys.findIndex((other) => other.id === id)
    if (sameId < index) fail(`mfa.encryptionKey[${index}].id duplicates mfa.encryptionKey[${sameId}].id (${id})`)
    const sameKey = keys.findIndex((other) => other.key.equals(key))
    if (sameKey < index) {
      fail(`mfa.encryptionKey[${index}].key is the same as mfa.encryptionKey[${sameKey}].key: rotate to a new one`)
    }
  })
  return keys
}

function integerIn (value: unknown, option: string, [min, max]: [number, number], fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    fail(`${option} must be an integer from ${min} to ${max} (got ${String(value)})`)
  }
  return value as number
}

function resolveTotp (totp: unknown, defaultIssuer: string): ResolvedMfa['totp'] {
  const options = totp ?? {}
  if (!isObject(options)) fail('mfa.totp must be an object such as { issuer, digits, period, window }')
  checkKeys(options, ['issuer', 'digits', 'period', 'window'], 'mfa.totp')
  const { issuer = defaultIssuer } = options
  // The issuer goes into the otpauth:// URI's label, where a colon would split it.
  if (typeof issuer !== 'string' || issuer.length === 0 || issuer.length > 64 || issuer.includes(':')) {
    fail('mfa.totp.issuer must be 1 to 64 characters without a colon')
  }
  return {
    issuer,
    digits: integerIn(options.digits, 'mfa.totp.digits', [6, 8], 6),
    period: integerIn(options.period, 'mfa.totp.period', [15, 120], 30),
    window: integerIn(options.window, 'mfa.totp.window', [0, 3], 1)
  }
}

function resolveRecoveryCodes (codes: unknown): ResolvedMfa['recoveryCodes'] {
  const options = codes ?? {}
  if (!isObject(options)) fail('mfa.recoveryCodes must be an object such as { count: 10 }')
  checkKeys(options, ['count'], 'mfa.recoveryCodes')
  return { count: integerIn(options.count, 'mfa.recoveryCodes.count', [4, 32], 10) }
}

function resolveRequired (required: unknown): ResolvedMfa['required'] {
  if (required === undefined || required === false) return null
  if (required === true) return () => true
  if (typeof required !== 'function') fail('mfa.required must be a boolean or a function (user) => boolean')
  return required as NonNullable<ResolvedMfa['required']>
}

/** The callbacks of the `users` contract's MFA group: all of them, when `mfa` is on. */
export const MFA_USER_CALLBACKS = [
  'findFactors', 'enableTotp', 'updateTotp', 'disableTotp', 'replaceRecoveryCodes', 'useRecoveryCode'
] as const

/** `mfa` option: undefined for none. `users` are the checked callbacks; `defaultIssuer` names the app. */
export function resolveMfa (mfa: unknown, users: Record<string, unknown>, defaultIssuer: string): ResolvedMfa | null {
  if (mfa === undefined) return null
  if (!isObject(mfa)) fail('mfa must be an object such as { encryptionKey }')
  checkKeys(mfa, ['encryptionKey', 'totp', 'recoveryCodes', 'required'], 'mfa')
  const { encryptionKey } = mfa
  if (encryptionKey === undefined || encryptionKey === null || encryptionKey === '') {
    fail(`mfa.encryptionKey is required (at least ${MIN_KEY_BYTES} random bytes): it encrypts the TOTP secrets`)
  }
  const keys = Array.isArray(encryptionKey)
    ? resolveKeyList(encryptionKey)
    : [{ id: DEFAULT_KEY_ID, key: resolveKey(encryptionKey, 'mfa.encryptionKey') }]
  const missing = ['findById', ...MFA_USER_CALLBACKS].filter((name) => users[name] === undefined)
  if (missing.length > 0) {
    fail(`mfa needs ${missing.map((name) => `users.${name}`).join(', ')} (kyselyUsers has them all)`)
  }
  return {
    keys,
    totp: resolveTotp(mfa.totp, defaultIssuer),
    recoveryCodes: resolveRecoveryCodes(mfa.recoveryCodes),
    required: resolveRequired(mfa.required)
  }
}
