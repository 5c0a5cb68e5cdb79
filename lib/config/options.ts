import { Buffer } from 'node:buffer'
import { toLifetime, toSeconds, type Duration } from './duration.js'
import { checkKeys, fail, isObject } from './check.js'
import { resolveCookies, type CookieOptions, type ResolvedCookies } from '../request/cookies.js'
import { resolveKeys, SAFE_KID, type ResolvedKey, type SigningKey } from '../tokens/keys.js'
import { OWASP_ARGON2ID, type PasswordOptions } from '../users/passwords.js'
import {
  resolveProtectByDefault,
  resolveRoutes,
  type ProtectByDefaultOptions,
  type ResolvedRoutes,
  type RoutesOptions
} from './routes.js'
import { resolveRateLimit, type RateLimitOptions, type ResolvedRateLimit } from './rate-limit.js'
import type { AuthEventListener } from '../audit/events.js'
import {
  resolveLegacy,
  resolveTrustedIssuers,
  type LegacyOptions,
  type ResolvedLegacy,
  type ResolvedTrustedIssuer,
  type TrustedIssuerOptions
} from './issuers.js'
import { resolvePermissions, type PermissionsOption } from './permissions.js'
import { resolveAcr, type AcrLevel } from './acr.js'
import { MFA_USER_CALLBACKS, resolveMfa, type MfaOptions, type ResolvedMfa } from './mfa.js'
import { IDENTITY_USER_CALLBACKS } from './identities.js'
import { PASSKEY_USER_CALLBACKS, resolvePasskeys, type PasskeysOptions, type ResolvedPasskeys } from './passkeys.js'
import { resolveOAuth, type OAuthOptions, type ResolvedOAuth } from './oauth.js'
import type { AuthStore, KeyValueStore } from '../stores/types.js'
import type { FoundUser } from '../types.js'

export type HmacAlgorithm = 'HS256' | 'HS384' | 'HS512'

type MaybePromise<T> = T | Promise<T>

/** The pluggable user lookup. */
export interface JwtAuthUsers {
  /** Loads the user named by a token's `sub` on every authenticated request (cached, see userCacheTtl). */
  findById?: (id: string) => MaybePromise<FoundUser | null | undefined>
  /**
   * Loads a user by login name for the login route; the user must carry `passwordHash`. It may match the name
   * exactly, or match `foldLogin(login)` against the folded column `create` keeps unique (then `Alice` and
   * `alicé` log in as `alice`). POST /register also asks it for `foldLogin(username)` before `create`.
   */
  findByLogin?: (login: string) => MaybePromise<(FoundUser & { passwordHash: string }) | null | undefined>
  /**
   * Creates a user (POST /register). It must refuse a username whose `foldLogin` is already taken, atomically (a
   * unique index on a column holding `foldLogin(username)`), and throw `UsernameTakenError` (or any error with its
   * code, FST_JWT_AUTH_USERNAME_TAKEN): the route answers 409. The route's lookup before it is only a fast
   * answer: two registrations of one name at once both pass it, and an exact lookup misses `alice` next to
   * `Alice`. Store `username` as given (the route refuses spaces around it and invisible characters). A value it
   * cannot store is refused with a 400 (`InvalidRequestError`), never left to fail in the database (a 500); an
   * adapter that keeps `email` unique refuses a taken one with `EmailTakenError` (409). `usersConformance`
   * (fastify-jwt-auth/testing) checks all of it.
   */
  // `passwordHash` is typed as register gives it, so that an inline create keeps reading a string. With the `oauth`
  // option, a provider's first sign-in calls create without it: type such a create's input as `NewUser`.
  create?: (input: { username: string, passwordHash: string, [profile: string]: unknown }) => MaybePromise<FoundUser>
  /**
   * Stores a new hash: a password change or reset, or a stronger hash after a login (then `previous` is the hash
   * it replaces: make that update conditional on it, so that it never lands over a password changed meanwhile).
   */
  updatePasswordHash?: (id: string, passwordHash: string, context?: { previous: string }) => MaybePromise<void>
  /** Records that the user proved their email address (POST /email/verify). */
  markEmailVerified?: (id: string) => MaybePromise<void>
  // The MFA group: all of it when the `mfa` option is on. What it stores is opaque text the plugin makes: the TOTP
  // secret sealed (AES-256-GCM, under mfa.encryptionKey), each recovery code as a keyed hash. `usersConformance`
  // (fastify-jwt-auth/testing) checks it.
  /** The user's second factors as stored; null (or undefined) for an unknown user. */
  findFactors?: (id: string) => MaybePromise<StoredFactors | null | undefined>
  /**
   * Turns on the user's TOTP with its recovery codes, atomically, only when the user has no TOTP: resolves to
   * false (storing nothing) when one is already on, so that of concurrent confirmations one wins.
   */
  enableTotp?: (id: string, factor: { totp: string, recoveryCodes: string[] }) => MaybePromise<boolean>
  /** Stores the TOTP secret sealed again (under a newer key), only over `previous`. */
  updateTotp?: (id: string, totp: string, context: { previous: string }) => MaybePromise<void>
  /** Turns the user's TOTP off and forgets its recovery codes. */
  disableTotp?: (id: string) => MaybePromise<void>
  /** Replaces every recovery code of the user with these. */
  replaceRecoveryCodes?: (id: string, recoveryCodes: string[]) => MaybePromise<void>
  /**
   * Spends a recovery code (as stored) of the user, atomically: true for the one call that removed it, false when
   * the user does not have it (used, or another user's).
   */
  useRecoveryCode?: (id: string, recoveryCode: string) => MaybePromise<boolean>
  // The identities group: all of it when the `oauth` option is on (`findByEmail` too when a provider links by
  // verified email). `usersConformance` (fastify-jwt-auth/testing) checks it.
  /** The user who linked this sign-in of a provider (its `provider` name and the provider's `sub`); else null. */
  findByIdentity?: (provider: string, subject: string) => MaybePromise<FoundUser | null | undefined>
  /**
   * Links a provider's sign-in to the user, atomically: resolves to false (storing nothing) when the (provider,
   * subject) is linked already, to anyone, or the user has an identity of that provider already.
   */
  linkIdentity?: (id: string, identity: NewIdentity) => MaybePromise<boolean>
  /** The user's identities, oldest first; [] for an unknown user. */
  listIdentities?: (id: string) => MaybePromise<UserIdentity[]>
  /** Unlinks the user's identity of `provider`: false when the user has none. */
  unlinkIdentity?: (id: string, provider: string) => MaybePromise<boolean>
  /**
   * The user whose email address is `email` (in any case, as `create` keeps addresses unique), for linking a
   * provider's sign-in by a verified address (`linkVerifiedEmail`); null when there is none.
   */
  findByEmail?: (email: string) => MaybePromise<FoundUser | null | undefined>
  // The passkeys group: all of it when the `passkeys` option is on. It stores public keys only (no secret), and a
  // random handle per user that authenticators keep in place of the user id. `usersConformance` checks it.
  /**
   * The user's passkey handle: the one stored, else `candidate` (random, from the plugin), stored atomically so
   * that of concurrent calls every one resolves to the same handle; null for an unknown user.
   */
  passkeyUserHandle?: (id: string, candidate: string) => MaybePromise<string | null | undefined>
  /** The user's passkeys, oldest first; [] for an unknown user. */
  listPasskeys?: (id: string) => MaybePromise<StoredPasskey[]>
  /** The passkey of this credential id, with its user and the user's handle; null when there is none. */
  findPasskey?: (credentialId: string) => MaybePromise<FoundPasskey | null | undefined>
  /**
   * Stores a new passkey of the user, atomically: false (storing nothing) when the credential id is stored already
   * (the user's or anyone's) or the user is unknown.
   */
  addPasskey?: (id: string, passkey: StoredPasskey) => MaybePromise<boolean>
  /**
   * After a login with the passkey: its new counter, backed-up flag and last use, only while its counter is still
   * `previousCounter` (false, changing nothing, otherwise: two logins at once with one counter value).
   */
  updatePasskey?: (
    credentialId: string, update: PasskeyUse, context: { previousCounter: number }
  ) => MaybePromise<boolean>
  /** Removes the user's passkey: false when the user has no passkey of that id. */
  removePasskey?: (id: string, credentialId: string) => MaybePromise<boolean>
}

/** A passkey as the `users` passkeys group stores it: public data only. */
export interface StoredPasskey {
  /** The credential id, base64url. */
  id: string
  /** The COSE public key, base64url. */
  publicKey: string
  /** The authenticator's signature counter at the last use (0 for authenticators that do not count). */
  counter: number
  /** How the browser can reach the authenticator (`internal`, `hybrid`, `usb`...), as it said. */
  transports: string[]
  /** Whether the passkey is synced (backed up) by its provider. */
  backedUp: boolean
  /** The user's name for it. */
  name: string
  /** ISO 8601. */
  createdAt: string
  /** ISO 8601; null until its first login. */
  lastUsedAt: string | null
}

/** A passkey as `users.findPasskey` gives it: with its user's id and passkey handle. */
export interface FoundPasskey extends StoredPasskey {
  userId: string
  userHandle: string
}

/** What a login with a passkey changes of it. */
export interface PasskeyUse {
  counter: number
  backedUp: boolean
  /** ISO 8601. */
  lastUsedAt: string
}

/** A user's second factors, as the `users` MFA group stores them: never a usable secret or code. */
export interface StoredFactors {
  /** The TOTP secret, sealed; null when TOTP is off. */
  totp: string | null
  /** The unused recovery codes, hashed. */
  recoveryCodes: string[]
}

/**
 * What `users.create` is given, with the `oauth` option: the username, the hash of the password (none for a user a
 * provider's sign-in creates: they have no password until they set one), and the profile fields.
 */
export interface NewUser {
  username: string
  passwordHash?: string
  [profile: string]: unknown
}

/** A sign-in of another provider, as `users.linkIdentity` is given it. */
export interface NewIdentity {
  /** The provider's name in the `oauth.providers` option. */
  provider: string
  /** The provider's stable id of the user (OpenID Connect's `sub`; GitHub's numeric id, as a string). */
  subject: string
  /** The address the provider gave, if any. */
  email: string | null
  /** Whether the provider said it verified that address. */
  emailVerified: boolean
}

/** A linked sign-in of another provider, as `users.listIdentities` gives it. */
export interface UserIdentity extends NewIdentity {
  /** When it was linked, ISO 8601. */
  linkedAt: string
}

interface CommonOptions {
  /** Put in every token as `iss` and required on verify. */
  issuer?: string
  /** Put in every token as `aud` and required on verify. */
  audience?: string | string[]
  /** Default '15m'. */
  accessTokenTtl?: Duration
  /** Default '7d'. */
  refreshTokenTtl?: Duration
  /**
   * How long a spent refresh token, presented again, gets the same successor pair instead of revoking its
   * family (a lost answer, two tabs). Default '10s'; 0 for strict rotation.
   */
  refreshGrace?: Duration
  /** Seconds of leeway for exp and nbf; default 0. */
  clockTolerance?: number
  users?: JwtAuthUsers
  /** How long a user loaded by findById is reused; 0 turns the cache off. Default '60s'. */
  userCacheTtl?: Duration
  /** Users kept in the cache at most; default 10,000. */
  userCacheMax?: number
  /** Verified access tokens kept (a hit skips the signature check); 0 turns the cache off. Default 10,000. */
  verifyCacheMax?: number
  /** Default: memoryStore(), owned and closed by the plugin. */
  store?: AuthStore | KeyValueStore
  /** A store operation slower than this fails closed (503). Default '2s'. */
  storeTimeout?: Duration
  /** The realm of WWW-Authenticate challenges; default the issuer, else 'api'. */
  realm?: string
  /** argon2id parameters; defaults and minimums are OWASP's (m=19456 KiB, t=2, p=1). */
  password?: PasswordOptions
  /** Longer bearer tokens are refused before any parsing; default 8192 characters. */
  maxTokenLength?: number
  /** The HTTP routes under a prefix: true for the defaults, false (default) for none. */
  routes?: boolean | RoutesOptions
  /**
   * @fastify/rate-limit options for the auth routes, with limits per class of route (credentials: 10 a minute,
   * session: 120, captcha: 30, jwks: 300); false turns it off.
   */
  rateLimit?: false | RateLimitOptions
  /** Run authenticate on every route except those with `config: { public: true }`. Default false. */
  protectByDefault?: boolean | ProtectByDefaultOptions
  /** Token cookies (via @fastify/cookie) for browser clients, with CSRF protection. Default false. */
  cookies?: boolean | CookieOptions
  /** Audit events (login, refresh, logout, password, ...), sync or async; what it throws is logged. */
  onEvent?: AuthEventListener
  /** Role -> permission names, for `authorize({ permissions })`. */
  permissions?: PermissionsOption
  /** Access tokens of other issuers (an identity provider) that `authenticate` accepts, verified with their JWKS. */
  trustedIssuers?: TrustedIssuerOptions[]
  /** Tokens of an earlier @fastify/jwt set-up, accepted as access tokens until `until`. */
  legacy?: LegacyOptions
  /**
   * The authentication levels the app names, strongest first: a session's `acr` claim is the `value` of the first
   * entry whose `amr` its proofs all include (`[{ value: 'mfa', amr: ['pwd', 'otp'] }, { value: 'pwd', amr:
   * ['pwd'] }]`); for `authorize({ acr })`. Default none: tokens carry no `acr`.
   */
  acr?: AcrLevel[]
  /** Second factors: TOTP and recovery codes (needs the `users` MFA group, which kyselyUsers has). Default off. */
  mfa?: MfaOptions
  /**
   * Sign in with other providers (OpenID Connect by discovery, Google, GitHub): routes under the prefix, ending in
   * this plugin's own token pair. Needs `routes` and the `users` identities group (kyselyUsers has it). Default off.
   */
  oauth?: OAuthOptions
  /**
   * Passkeys (WebAuthn): passwordless login and a second factor. Needs `routes` and the `users` passkeys group
   * (kyselyUsers has it). Default off.
   */
  passkeys?: PasskeysOptions
}

/** One HMAC secret of a list (rotation): the first signs, each verifies the tokens carrying its kid. */
export interface HmacSecret {
  /** Put in the header of the tokens it signs. One entry may omit it: it verifies the tokens without a kid. */
  kid?: string
  /** At least 32 bytes for HS256, 48 for HS384, 64 for HS512. */
  secret: string | Buffer
  /** The one algorithm this secret signs and verifies with; default 'HS256'. */
  algorithm?: HmacAlgorithm
}

/** HMAC: shared secrets sign and verify. */
export interface HmacOptions extends CommonOptions {
  /**
   * HMAC secret: at least 32 bytes for HS256, 48 for HS384, 64 for HS512 (RFC 7518 section 3.2). An array
   * rotates secrets: the first signs, each verifies the tokens carrying its kid, with its own algorithm.
   */
  secret: string | Buffer | HmacSecret[]
  /** HMAC algorithm of a single secret; default 'HS256'. The entries of an array have their own. */
  algorithm?: HmacAlgorithm
  keys?: never
}

/** Asymmetric keys: the first signs, every one verifies (with its own algorithm), the JWKS publishes them. */
export interface KeysOptions extends CommonOptions {
  keys: SigningKey[]
  secret?: never
  algorithm?: never
}

export type JwtAuthOptions =
  // A top-level algorithm beside a secret array is refused: each entry has its own.
  | (HmacOptions & ({ secret: string | Buffer } | { secret: HmacSecret[], algorithm?: never }))
  | KeysOptions

/** A validated HMAC secret; `kid` undefined for the one of the tokens without a kid. */
export interface ResolvedSecret {
  kid: string | undefined
  key: Buffer
  algorithm: HmacAlgorithm
}

/** How tokens are signed and verified: the first secret or key signs. */
export type Signing =
  | { kind: 'hmac', secrets: ResolvedSecret[] }
  | { kind: 'keys', keys: ResolvedKey[] }

export interface ResolvedOptions {
  signing: Signing
  issuer: string | undefined
  audience: string | string[] | undefined
  accessTtl: number
  refreshTtl: number
  clockTolerance: number
  users: JwtAuthUsers
  userCacheTtl: number
  userCacheMax: number
  verifyCacheMax: number
  refreshGrace: number
  /** The store given, or undefined for the default memory store (made and owned by the plugin). */
  store: AuthStore | KeyValueStore | undefined
  storeTimeoutMs: number
  realm: string
  password: Required<PasswordOptions>
  maxTokenLength: number
  routes: ResolvedRoutes | null
  rateLimit: ResolvedRateLimit | null
  protectByDefault: Required<ProtectByDefaultOptions> | null
  cookies: ResolvedCookies | null
  onEvent: AuthEventListener | undefined
  permissions: PermissionsOption
  trustedIssuers: ResolvedTrustedIssuer[]
  legacy: ResolvedLegacy | null
  /** The `acr` levels, strongest first; [] when none. */
  acr: AcrLevel[]
  mfa: ResolvedMfa | null
  oauth: ResolvedOAuth | null
  passkeys: ResolvedPasskeys | null
}

const HMAC_MIN_BYTES: Record<HmacAlgorithm, number> = { HS256: 32, HS384: 48, HS512: 64 }
const HMAC_SECRET_OPTIONS = ['kid', 'secret', 'algorithm']
const KNOWN_OPTIONS = ['secret', 'algorithm', 'keys', 'issuer', 'audience', 'accessTokenTtl', 'refreshTokenTtl',
  'refreshGrace', 'clockTolerance', 'users', 'userCacheTtl', 'userCacheMax', 'verifyCacheMax', 'store', 'storeTimeout',
  'realm', 'password', 'maxTokenLength', 'routes', 'rateLimit', 'protectByDefault', 'cookies', 'onEvent',
  'permissions', 'trustedIssuers', 'legacy', 'acr', 'mfa', 'oauth', 'passkeys']
// Access tokens are short-lived (a stolen one cannot be called back before it expires); a day is already long.
const MAX_ACCESS_TTL = 86_400
const MAX_REFRESH_TTL = 400 * 86_400
const USER_CALLBACKS = [
  'findById', 'findByLogin', 'create', 'updatePasswordHash', 'markEmailVerified', ...MFA_USER_CALLBACKS,
  ...IDENTITY_USER_CALLBACKS, 'findByEmail', ...PASSKEY_USER_CALLBACKS
] as const
// token68-safe realm: it is put in a quoted-string as is
const SAFE_REALM = /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,128}$/

function nonEmptyString (value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0) fail(`${option} must be a non-empty string`)
  return value
}

function positiveInteger (value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    fail(`${option} must be a positive integer (got ${String(value)})`)
  }
  return value as number
}

function cacheSize (value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    fail(`${option} must be 0 (no cache) or a positive integer (got ${String(value)})`)
  }
  return value as number
}

function resolveKey (secret: unknown, algorithm: HmacAlgorithm, option: string): Buffer {
  const minimum = HMAC_MIN_BYTES[algorithm]
  if (secret === undefined || secret === null || secret === '') {
    fail(`${option} is required (an HMAC secret of at least ${minimum} random bytes)`)
  }
  if (typeof secret !== 'string' && !Buffer.isBuffer(secret)) {
    fail(`${option} must be a string or a Buffer${option === 'secret' ? ', or an array of { kid, secret }' : ''}`)
  }
  const key = Buffer.from(secret)
  if (key.length < minimum) {
    fail(
      `${option} must be at least ${minimum} bytes for ${algorithm} (got ${key.length}); generate one with: ` +
      `node -e "console.log(require('crypto').randomBytes(${minimum}).toString('base64'))"`
    )
  }
  return key
}

function resolveSecret (entry: unknown, index: number): ResolvedSecret {
  const option = `secret[${index}]`
  if (!isObject(entry)) fail(`${option} must be { kid, secret, algorithm }`)
  checkKeys(entry, HMAC_SECRET_OPTIONS, option)
  const { kid } = entry
  if (kid !== undefined && (typeof kid !== 'string' || !SAFE_KID.test(kid))) {
    fail(`${option}.kid must be 1 to 128 printable characters without quotes or backslashes`)
  }
  const algorithm = (entry.algorithm ?? 'HS256') as HmacAlgorithm
  if (!Object.hasOwn(HMAC_MIN_BYTES, algorithm)) {
    fail(`${option}.algorithm must be one of HS256, HS384, HS512 (got ${String(algorithm)})`)
  }
  return { kid, key: resolveKey(entry.secret, algorithm, `${option}.secret`), algorithm }
}

/** One secret (tokens without a kid), or a list: the first signs, each verifies the tokens of its kid. */
function resolveSecrets (secret: unknown, algorithm: HmacAlgorithm | undefined): ResolvedSecret[] {
  if (!Array.isArray(secret)) {
    const single = algorithm ?? 'HS256'
    return [{ kid: undefined, key: resolveKey(secret, single, 'secret'), algorithm: single }]
  }
  if (algorithm !== undefined) fail('algorithm cannot go with a secret array: give each entry its own algorithm')
  if (secret.length === 0) fail('secret must not be an empty array: its first entry signs the tokens')
  const secrets = secret.map(resolveSecret)
  secrets.forEach(({ kid, key }, index) => {
    const sameKid = secrets.findIndex((other) => other.kid === kid)
    if (sameKid < index) {
      fail(kid === undefined
        ? `secret[${index}] has no kid, like secret[${sameKid}]: one entry at most verifies the tokens without one`
        : `secret[${index}].kid duplicates secret[${sameKid}].kid (${kid})`)
    }
    // The same secret twice would be a rotation that changes nothing, or one key under two algorithms.
    const sameKey = secrets.findIndex((other) => other.key.equals(key))
    if (sameKey < index) fail(`secret[${index}].secret is the same as secret[${sameKey}].secret: rotate to a new one`)
  })
  return secrets
}

function resolveUsers (users: unknown): JwtAuthUsers {
  if (users === undefined) return {}
  if (!isObject(users)) fail('users must be an object of lookup functions')
  // A misspelt callback (users.findByID) would mean no user lookup at all: disabled users keep their access.
  checkKeys(users, USER_CALLBACKS, 'users')
  for (const name of USER_CALLBACKS) {
    const callback = (users as Record<string, unknown>)[name]
    if (callback !== undefined && typeof callback !== 'function') fail(`users.${name} must be a function`)
  }
  return users as JwtAuthUsers
}

function resolvePassword (password: unknown): Required<PasswordOptions> {
  if (password === undefined) return { ...OWASP_ARGON2ID }
  if (!isObject(password)) fail('password must be an object of argon2id parameters')
  checkKeys(password, Object.keys(OWASP_ARGON2ID), 'password')
  const resolved = { ...OWASP_ARGON2ID }
  for (const name of Object.keys(OWASP_ARGON2ID) as Array<keyof PasswordOptions>) {
    const value = (password as PasswordOptions)[name]
    if (value === undefined) continue
    if (!Number.isSafeInteger(value) || value < OWASP_ARGON2ID[name]) {
      fail(
        `password.${name} must be an integer of at least ${OWASP_ARGON2ID[name]} (OWASP minimum; got ${String(value)})`
      )
    }
    resolved[name] = value
  }
  return resolved
}

function resolveOnEvent (onEvent: unknown): AuthEventListener | undefined {
  if (onEvent !== undefined && typeof onEvent !== 'function') fail('onEvent must be a function (event) => void')
  return onEvent as AuthEventListener | undefined
}

/** Validates the register options and fills in the defaults; throws InvalidOptionError naming the option. */
export function resolveOptions (options: JwtAuthOptions): ResolvedOptions {
  if (!isObject(options)) fail('options must be an object')
  checkKeys(options, KNOWN_OPTIONS, '')

  const { keys } = options as { keys?: unknown }
  if (keys !== undefined &&
      ((options as { secret?: unknown }).secret !== undefined || options.algorithm !== undefined)) {
    fail('give either secret (HMAC) or keys (asymmetric), never both: an HMAC secret and public keys are not mixed')
  }
  const algorithm = options.algorithm ?? 'HS256'
  if (!Object.hasOwn(HMAC_MIN_BYTES, algorithm)) {
    fail(`algorithm must be one of HS256, HS384, HS512 (got ${String(algorithm)}); asymmetric algorithms go with keys`)
  }

  const issuer = nonEmptyString(options.issuer, 'issuer')
  const audience = options.audience
  if (audience !== undefined) {
    const list = Array.isArray(audience) ? audience : [audience]
    if (list.length === 0 || !list.every((aud) => typeof aud === 'string' && aud.length > 0)) {
      fail('audience must be a non-empty string or a non-empty array of them')
    }
  }

  const clockTolerance = options.clockTolerance ?? 0
  if (typeof clockTolerance !== 'number' || !Number.isFinite(clockTolerance) || clockTolerance < 0) {
    fail(`clockTolerance must be a non-negative number of seconds (got ${String(clockTolerance)})`)
  }

  const realm = options.realm ?? issuer ?? 'api'
  if (typeof realm !== 'string' || !SAFE_REALM.test(realm)) {
    fail('realm must be 1 to 128 printable ASCII characters without " or \\')
  }

  const users = resolveUsers(options.users)
  const resolved = {
    signing: (keys === undefined
      ? { kind: 'hmac', secrets: resolveSecrets((options as HmacOptions).secret, options.algorithm) }
      : { kind: 'keys', keys: resolveKeys(keys) }) satisfies Signing as Signing,
    issuer,
    audience,
    accessTtl: toLifetime(options.accessTokenTtl ?? '15m', 'accessTokenTtl', MAX_ACCESS_TTL),
    refreshTtl: toLifetime(options.refreshTokenTtl ?? '7d', 'refreshTokenTtl', MAX_REFRESH_TTL),
    clockTolerance,
    users,
    userCacheTtl: toSeconds(options.userCacheTtl ?? '60s', 'userCacheTtl', { allowZero: true }),
    userCacheMax: positiveInteger(options.userCacheMax, 'userCacheMax', 10_000),
    verifyCacheMax: cacheSize(options.verifyCacheMax, 'verifyCacheMax', 10_000),
    storeTimeoutMs: toSeconds(options.storeTimeout ?? '2s', 'storeTimeout') * 1000,
    realm,
    password: resolvePassword(options.password),
    maxTokenLength: positiveInteger(options.maxTokenLength, 'maxTokenLength', 8192),
    routes: resolveRoutes(options.routes, users as Record<string, unknown>, keys !== undefined),
    rateLimit: resolveRateLimit(options.rateLimit),
    protectByDefault: resolveProtectByDefault(options.protectByDefault),
    cookies: resolveCookies(options.cookies),
    onEvent: resolveOnEvent(options.onEvent),
    permissions: resolvePermissions(options.permissions),
    trustedIssuers: resolveTrustedIssuers(options.trustedIssuers),
    legacy: resolveLegacy(options.legacy),
    acr: resolveAcr(options.acr),
    mfa: resolveMfa(options.mfa, users as Record<string, unknown>, issuer ?? realm)
  }
  if (resolved.accessTtl >= resolved.refreshTtl) {
    fail(
      `accessTokenTtl must be shorter than refreshTokenTtl (got ${resolved.accessTtl} s and ${resolved.refreshTtl} s)`
    )
  }
  const refreshGrace = toSeconds(options.refreshGrace ?? '10s', 'refreshGrace', { allowZero: true })
  if (refreshGrace >= resolved.refreshTtl) fail('refreshGrace must be shorter than refreshTokenTtl')
  if (options.store === null || (options.store !== undefined && typeof options.store !== 'object')) {
    fail('store must be a store: memoryStore(), redisStore(...) or an object with the store ports')
  }
  const oauth = resolveOAuth(options.oauth, users as Record<string, unknown>, resolved.routes !== null)
  const passkeys = resolvePasskeys(options.passkeys, users as Record<string, unknown>, resolved.routes !== null)
  return { ...resolved, refreshGrace, store: options.store, oauth, passkeys }
}
