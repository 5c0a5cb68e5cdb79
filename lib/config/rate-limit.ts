import type { RateLimitPluginOptions } from '@fastify/rate-limit'
import { checkKeys, fail, isObject } from './check.js'

/**
 * The auth routes, by what a client does with them. Each class has its own
 * bucket per client, so that reading `/me` never uses up the logins.
 * - credentials: the routes that check a password, a passkey or spend a one-time token (login, register, password,
 *   email verification, reauthenticate, passkey login): strict.
 * - session: what a logged-in client does often (refresh, logout, me).
 * - captcha: a new challenge per login or register attempt.
 * - jwks: the public keys, fetched by other services.
 * - mfa: the second factor's routes (setup, confirmation, the login's second step, codes) and the passkeys of an
 *   account (registration, list, removal): strict.
 */
export type RouteClass = 'credentials' | 'session' | 'captcha' | 'jwks' | 'mfa'

export const ROUTE_CLASSES: readonly RouteClass[] = ['credentials', 'session', 'captcha', 'jwks', 'mfa']

// @fastify/rate-limit's own option names (its types). `global` and `groupId` are the plugin's to set.
const LIMIT_OPTIONS = ['max', 'timeWindow', 'hook', 'cache', 'allowList', 'skipOnError', 'ban', 'continueExceeding',
  'keyGenerator', 'ipv6Subnet', 'errorResponseBuilder', 'enableDraftSpec', 'onExceeding', 'onExceeded', 'onBanReach',
  'exponentialBackoff', 'addHeaders', 'addHeadersOnExceeding'] as const
// Where the counts are kept: one place for every class (each class under its own name space).
const BACKEND_OPTIONS = ['redis', 'nameSpace', 'store'] as const

/** One class's limits: any per-bucket @fastify/rate-limit option. */
export type RouteClassLimits = Pick<RateLimitPluginOptions, typeof LIMIT_OPTIONS[number]>

/**
 * `rateLimit` option. The @fastify/rate-limit options given at the top apply to
 * every class (the top-level `max` and `timeWindow` are the credential routes'
 * limits); each class may override them, or be `false` to leave it unlimited.
 */
export interface RateLimitOptions extends Pick<RateLimitPluginOptions, typeof LIMIT_OPTIONS[number] |
  typeof BACKEND_OPTIONS[number]> {
  /**
   * login, register, swagger-login, password, email, reauthenticate, passkey login routes: default 10 a minute per
   * client.
   */
  credentials?: false | RouteClassLimits
  /** refresh, logout, me: default 120 a minute per client. */
  session?: false | RouteClassLimits
  /** captcha: default 30 a minute per client. */
  captcha?: false | RouteClassLimits
  /** the JWKS: default 300 a minute per client. */
  jwks?: false | RouteClassLimits
  /** the MFA routes (with the mfa option), the account's passkey routes: default 10 a minute per client. */
  mfa?: false | RouteClassLimits
}

/** @fastify/rate-limit options of each class; null where a class is not limited. */
export type ResolvedRateLimit = Record<RouteClass, RateLimitPluginOptions | null>

const DEFAULT_LIMITS: Record<RouteClass, RouteClassLimits> = {
  credentials: { max: 10, timeWindow: '1 minute' },
  session: { max: 120, timeWindow: '1 minute' },
  captcha: { max: 30, timeWindow: '1 minute' },
  jwks: { max: 300, timeWindow: '1 minute' },
  mfa: { max: 10, timeWindow: '1 minute' }
}

function classLimits (routeClass: RouteClass, given: unknown, shared: RateLimitPluginOptions) {
  if (given === false) return null
  if (given !== undefined && !isObject(given)) {
    fail(`rateLimit.${routeClass} must be false or limits such as { max: 10, timeWindow: '1 minute' }`)
  }
  checkKeys(given ?? {}, LIMIT_OPTIONS, `rateLimit.${routeClass}`)
  // The top-level max and timeWindow are the credential routes' (a class of its own for the others).
  const { max, timeWindow, ...common } = shared
  const top = routeClass === 'credentials' ? { max, timeWindow } : {}
  const defined = Object.fromEntries(Object.entries(top).filter(([, value]) => value !== undefined))
  return { ...common, ...DEFAULT_LIMITS[routeClass], ...defined, ...(given as RouteClassLimits | undefined) }
}

/** `rateLimit` option: the limits of each class of auth routes, or null when off. */
export function resolveRateLimit (rateLimit: unknown): ResolvedRateLimit | null {
  if (rateLimit === false) return null
  const options = rateLimit ?? {}
  if (!isObject(options)) {
    fail('rateLimit must be false or @fastify/rate-limit options such as { max: 10, timeWindow: \'1 minute\' }')
  }
  checkKeys(options, [...LIMIT_OPTIONS, ...BACKEND_OPTIONS, ...ROUTE_CLASSES], 'rateLimit')
  const { credentials, session, captcha, jwks, mfa, ...shared } = options as RateLimitOptions
  const given = { credentials, session, captcha, jwks, mfa }
  return Object.fromEntries(ROUTE_CLASSES.map((routeClass) =>
    [routeClass, classLimits(routeClass, given[routeClass], shared as RateLimitPluginOptions)])) as ResolvedRateLimit
}
