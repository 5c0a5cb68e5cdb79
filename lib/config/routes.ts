import { toSeconds, type Duration } from './duration.js'
import { checkKeys, fail, isObject } from './check.js'
import {
  resolveAccountRoutes,
  type EmailVerificationOptions,
  type PasswordResetOptions,
  type ResolvedAccountRoutes
} from './account.js'

/** A captcha challenge: the answer and its SVG picture. */
export interface Captcha {
  text: string
  svg: string
}

export interface CaptchaOptions {
  /** How long a captcha may be answered; default '5m'. */
  ttl?: Duration
  /** Replaces the svg-captcha generator. */
  create?: () => Captcha | Promise<Captcha>
}

export interface LockoutOptions {
  /** Failed logins for one account, within `window`, that lock it; default 5. */
  maxFailures?: number
  /** Default '15m'. */
  window?: Duration
  /** How long the account stays locked; default '15m'. */
  duration?: Duration
}

/** Returns why a password is refused, or nothing to accept it. */
export type PasswordPolicy = (
  password: string,
  input: { username: string }
) => string | undefined | null | Promise<string | undefined | null>

export interface RoutesOptions {
  /** Default '/auth'. */
  prefix?: string
  /** Captcha on login and register; default true. */
  captcha?: boolean | CaptchaOptions
  /** POST /swagger-login (OAuth2 password flow for Swagger UI); development only. Default false. */
  swaggerLogin?: boolean
  /** Per-account lockout after repeated failed logins; default on, false turns it off. */
  lockout?: false | LockoutOptions
  /** Extra password rule for POST /register, on top of the length bounds. */
  passwordPolicy?: PasswordPolicy
  /** GET /.well-known/jwks.json with the public keys (needs `keys`). Default false. */
  jwks?: boolean
  /**
   * The profile fields POST /register accepts besides username and password, as JSON schema properties
   * (`{ displayName: { type: 'string', maxLength: 100 } }`); every other body field is refused. Default none.
   */
  profile?: Record<string, Record<string, unknown>>
  /** POST /password/forgot and /password/reset: the app's mailer sends the one-time token. Default off. */
  passwordReset?: false | PasswordResetOptions
  /** POST /email/verify/request and /email/verify (needs users.markEmailVerified). Default off. */
  emailVerification?: false | EmailVerificationOptions
  /** POST /password/change for a logged-in user; default on when users.findById and updatePasswordHash exist. */
  passwordChange?: boolean
  /**
   * POST /reauthenticate: a logged-in user proves it again (the password, or a second factor's code) for a new pair
   * of the session with a fresh `auth_time` (step-up). Default on when users.findById exists.
   */
  reauthenticate?: boolean
}

export interface ProtectByDefaultOptions {
  /** Route URL prefixes left public (for example the Swagger UI prefix '/docs'). */
  publicPrefixes?: string[]
}

export interface ResolvedRoutes extends ResolvedAccountRoutes {
  prefix: string
  captcha: { ttl: number, create: (() => Captcha | Promise<Captcha>) | undefined } | null
  swaggerLogin: boolean
  lockout: { maxFailures: number, window: number, duration: number } | null
  passwordPolicy: PasswordPolicy | undefined
  jwks: boolean
  profile: Record<string, Record<string, unknown>>
  reauthenticate: boolean
}

/** Passwords are bounded before any hashing: at least this many characters... */
export const MIN_PASSWORD_LENGTH = 8
/** ...and at most this many (long passphrases fit; megabyte bodies do not reach argon2). */
export const MAX_PASSWORD_LENGTH = 1024

function resolveCaptcha (captcha: unknown): ResolvedRoutes['captcha'] {
  if (captcha === false) return null
  if (captcha === undefined || captcha === true) return { ttl: 300, create: undefined }
  if (!isObject(captcha)) fail('routes.captcha must be true, false or { ttl, create }')
  checkKeys(captcha, ['ttl', 'create'], 'routes.captcha')
  if (captcha.create !== undefined && typeof captcha.create !== 'function') {
    fail('routes.captcha.create must be a function returning { text, svg }')
  }
  return {
    ttl: toSeconds(captcha.ttl ?? '5m', 'routes.captcha.ttl'),
    create: captcha.create as (() => Captcha | Promise<Captcha>) | undefined
  }
}

/** The lockout's defaults: 5 failures within 15 minutes lock for 15 minutes (also the MFA lockout's, always on). */
export const DEFAULT_LOCKOUT = { maxFailures: 5, window: 900, duration: 900 } as const

function resolveLockout (lockout: unknown): ResolvedRoutes['lockout'] {
  if (lockout === false) return null
  const options = lockout ?? {}
  if (!isObject(options)) fail('routes.lockout must be false or { maxFailures, window, duration }')
  checkKeys(options, ['maxFailures', 'window', 'duration'], 'routes.lockout')
  const maxFailures = options.maxFailures ?? DEFAULT_LOCKOUT.maxFailures
  if (!Number.isSafeInteger(maxFailures) || (maxFailures as number) < 1) {
    fail(`routes.lockout.maxFailures must be a positive integer (got ${String(maxFailures)})`)
  }
  return {
    maxFailures: maxFailures as number,
    window: toSeconds(options.window ?? DEFAULT_LOCKOUT.window, 'routes.lockout.window'),
    duration: toSeconds(options.duration ?? DEFAULT_LOCKOUT.duration, 'routes.lockout.duration')
  }
}

// Fields of the register body that are never profile: the credentials, the captcha, and what no client may set.
const NOT_PROFILE = ['username', 'password', 'captchaId', 'captcha', 'id', 'roles', 'passwordHash']

function resolveProfile (profile: unknown): ResolvedRoutes['profile'] {
  if (profile === undefined) return {}
  if (!isObject(profile) || !Object.values(profile).every(isObject)) {
    fail('routes.profile must be JSON schema properties, such as { displayName: { type: \'string\', maxLength: 100 } }')
  }
  for (const name of Object.keys(profile)) {
    if (NOT_PROFILE.includes(name)) fail(`routes.profile.${name}: ${name} is not a profile field`)
  }
  return profile as ResolvedRoutes['profile']
}

/** `routes.reauthenticate`: on by default where it can work (it reads the user's password hash by id). */
function resolveReauthenticate (reauthenticate: unknown, hasFindById: boolean): boolean {
  if (reauthenticate !== undefined && typeof reauthenticate !== 'boolean') {
    fail('routes.reauthenticate must be a boolean')
  }
  if (reauthenticate === true && !hasFindById) fail('routes.reauthenticate needs users.findById')
  return reauthenticate ?? hasFindById
}

const ROUTES_OPTIONS = ['prefix', 'captcha', 'swaggerLogin', 'lockout', 'passwordPolicy', 'jwks', 'profile',
  'passwordReset', 'emailVerification', 'passwordChange', 'reauthenticate']

/** `routes` option: false/undefined for none, true for the defaults, or an object. */
export function resolveRoutes (
  routes: unknown, users: Record<string, unknown>, hasKeys: boolean
): ResolvedRoutes | null {
  if (routes === undefined || routes === false) return null
  const options = routes === true ? {} : routes
  if (!isObject(options)) fail('routes must be true, false or an object')
  checkKeys(options, ROUTES_OPTIONS, 'routes')
  if (!users.findByLogin) fail('routes need users.findByLogin to check logins')
  const prefix = options.prefix ?? '/auth'
  if (typeof prefix !== 'string' || !/^(\/[\w.~-]+)*$/.test(prefix)) {
    fail(`routes.prefix must be a path such as '/auth' (got ${JSON.stringify(prefix)})`)
  }
  if (options.swaggerLogin !== undefined && typeof options.swaggerLogin !== 'boolean') {
    fail('routes.swaggerLogin must be a boolean')
  }
  if (options.passwordPolicy !== undefined && typeof options.passwordPolicy !== 'function') {
    fail('routes.passwordPolicy must be a function')
  }
  if (options.jwks !== undefined && typeof options.jwks !== 'boolean') fail('routes.jwks must be a boolean')
  if (options.jwks === true && !hasKeys) {
    fail('routes.jwks needs asymmetric keys (the keys option): an HMAC secret is never published')
  }
  return {
    prefix,
    captcha: resolveCaptcha(options.captcha),
    swaggerLogin: options.swaggerLogin === true,
    lockout: resolveLockout(options.lockout),
    passwordPolicy: options.passwordPolicy as PasswordPolicy | undefined,
    jwks: options.jwks === true,
    profile: resolveProfile(options.profile),
    reauthenticate: resolveReauthenticate(options.reauthenticate, users.findById !== undefined),
    ...resolveAccountRoutes(options, {
      findById: users.findById !== undefined,
      updatePasswordHash: users.updatePasswordHash !== undefined,
      markEmailVerified: users.markEmailVerified !== undefined
    })
  }
}

/** `protectByDefault` option. */
export function resolveProtectByDefault (protect: unknown): Required<ProtectByDefaultOptions> | null {
  if (protect === undefined || protect === false) return null
  const options = protect === true ? {} : protect
  if (!isObject(options)) fail('protectByDefault must be true, false or { publicPrefixes }')
  checkKeys(options, ['publicPrefixes'], 'protectByDefault')
  const publicPrefixes = options.publicPrefixes ?? []
  if (!Array.isArray(publicPrefixes) ||
      !publicPrefixes.every((prefix) => typeof prefix === 'string' && prefix.startsWith('/'))) {
    fail('protectByDefault.publicPrefixes must be an array of paths starting with /')
  }
  return { publicPrefixes }
}
