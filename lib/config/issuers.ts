// Options of the tokens `authenticate` accepts besides the plugin's own: access tokens of trusted
// issuers (resource-server mode, RFC 9068) and tokens of an earlier @fastify/jwt set-up (`legacy`).
import { Buffer } from 'node:buffer'
import { createPublicKey, KeyObject } from 'node:crypto'
import { isIP } from 'node:net'
import { keyMisfit, PUBLIC_KEY_ALGORITHMS, type PublicKeyAlgorithm } from '../tokens/key-fit.js'
import type { Jwk, KeyInput } from '../tokens/keys.js'
import type { FoundUser } from '../types.js'
import { checkKeys, fail, isObject } from './check.js'
import { toMilliseconds, type Duration } from './duration.js'

type MaybePromise<T> = T | Promise<T>

/** Asymmetric algorithms only: a shared secret is never published in a JWKS. */
export type TrustedIssuerAlgorithm = PublicKeyAlgorithm

export type LegacyHmacAlgorithm = 'HS256' | 'HS384' | 'HS512'

/** The payload of a token of another issuer, as verified. */
export interface ForeignClaims {
  sub?: string
  iss?: string
  aud?: string | string[]
  iat?: number
  exp?: number
  nbf?: number
  [claim: string]: unknown
}

/** A trusted issuer's access token: these claims are required and checked. */
export interface TrustedIssuerClaims extends ForeignClaims {
  sub: string
  iss: string
  aud: string | string[]
  iat: number
  exp: number
}

/** Loads the user of a token of another issuer; null or undefined refuses it (401). */
export type MapUser<Claims> = (claims: Claims) => MaybePromise<FoundUser | null | undefined>

export interface TrustedIssuerOptions {
  /** The token's `iss`, exactly. */
  issuer: string
  /** Where the issuer publishes its keys: an https URL (http only on loopback). */
  jwksUri: string
  /** This API's identifier at the issuer: the token's `aud` must hold one of them. */
  audience: string | string[]
  /** The algorithms accepted from this issuer, asymmetric only (RFC 8725 section 3.1). */
  algorithms: TrustedIssuerAlgorithm[]
  /** The header `typ` required, such as 'at+jwt' (RFC 9068); unchecked when not given. */
  typ?: string
  /** The user of a token; default: `users.findById(sub)`, or the claims without findById. */
  mapUser?: MapUser<TrustedIssuerClaims>
  /** How long a fetched key set is used before it is fetched again; default '10m' (at least '1s'). */
  cacheTtl?: Duration
  /** How long past cacheTtl known keys go on working while the set cannot be fetched again; default '1h'. */
  maxStale?: Duration
  /** After a fetch that failed or lacked the key, unknown keys are refused for this long; default '30s'. */
  cooldown?: Duration
  /** A JWKS fetch slower than this fails (503); default '5s'. */
  timeout?: Duration
}

interface LegacyCommon {
  /** Legacy tokens are refused from this date on (401): a Date or an ISO 8601 string. */
  until: Date | string
  /** The user of a legacy token; default: `users.findById(sub)`, or the claims without findById. */
  mapUser?: MapUser<ForeignClaims>
}

/** Tokens of an earlier @fastify/jwt set-up, signed with its secret or its private key. */
export type LegacyOptions = LegacyCommon & (
  | { secret: string | Buffer, publicKey?: never, algorithms: LegacyHmacAlgorithm[] }
  | { publicKey: KeyInput, secret?: never, algorithms: TrustedIssuerAlgorithm[] }
)

export interface ResolvedTrustedIssuer {
  issuer: string
  jwksUri: URL
  audience: string[]
  algorithms: TrustedIssuerAlgorithm[]
  typ: string | undefined
  mapUser: MapUser<TrustedIssuerClaims> | undefined
  cacheTtlMs: number
  maxStaleMs: number
  cooldownMs: number
  timeoutMs: number
}

export interface ResolvedLegacy {
  /** The HMAC secret, or the public key as PEM. */
  key: Buffer | string
  algorithms: string[]
  untilMs: number
  mapUser: MapUser<ForeignClaims> | undefined
}

const ISSUER_OPTIONS = ['issuer', 'jwksUri', 'audience', 'algorithms', 'typ', 'mapUser', 'cacheTtl', 'maxStale',
  'cooldown', 'timeout']
const LEGACY_OPTIONS = ['secret', 'publicKey', 'algorithms', 'until', 'mapUser']
const HMAC = ['HS256', 'HS384', 'HS512']

const ASYMMETRIC: readonly string[] = PUBLIC_KEY_ALGORITHMS

function nonEmptyString (value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) fail(`${path} must be a non-empty string`)
  return value
}

function optionalFunction<F> (value: unknown, path: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') fail(`${path} must be a function (claims) => user`)
  return value as F | undefined
}

/** The algorithms accepted, named one by one (RFC 8725 section 3.1): 'none' is never among them. */
function algorithmList (value: unknown, path: string, allowed: readonly string[], hint = ''): string[] {
  if (!Array.isArray(value) || value.length === 0) fail(`${path} must be a non-empty array of algorithms`)
  for (const algorithm of value) {
    if (!allowed.includes(algorithm)) {
      fail(`${path} must hold only ${allowed.join(', ')} (got ${String(algorithm)})${hint}`)
    }
  }
  return [...new Set(value as string[])]
}

// Loopback only: a JWKS fetched in clear text anywhere else could be swapped on the way.
export function isLoopback (hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1')
  if (host === 'localhost' || host === '::1') return true
  return isIP(host) === 4 && host.startsWith('127.')
}

function jwksUrl (value: unknown, path: string): URL {
  const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined
  if (url === undefined || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname)))) {
    fail(`${path} must be an https URL (or http on loopback) (got ${JSON.stringify(value)})`)
  }
  if (url.username !== '' || url.password !== '' || url.hash !== '') {
    fail(`${path} must not carry credentials or a #fragment`)
  }
  return url
}

function audienceList (value: unknown, path: string): string[] {
  const list: unknown[] = Array.isArray(value) ? value : [value]
  if (list.length === 0 || !list.every((aud) => typeof aud === 'string' && aud.length > 0)) {
    fail(`${path} must be a non-empty string or a non-empty array of them (RFC 9068 requires aud)`)
  }
  return list as string[]
}

// fast-jwt compares the header's typ lower-cased and without 'application/' (RFC 8725 section 3.11).
function typOf (value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined
  return nonEmptyString(value, path).toLowerCase().replace(/^application\//, '')
}

function resolveIssuer (options: unknown, index: number): ResolvedTrustedIssuer {
  const path = `trustedIssuers[${index}]`
  if (!isObject(options)) fail(`${path} must be { issuer, jwksUri, audience, algorithms }`)
  checkKeys(options, ISSUER_OPTIONS, path)
  return {
    issuer: nonEmptyString(options.issuer, `${path}.issuer`),
    jwksUri: jwksUrl(options.jwksUri, `${path}.jwksUri`),
    audience: audienceList(options.audience, `${path}.audience`),
    algorithms: algorithmList(options.algorithms, `${path}.algorithms`, ASYMMETRIC,
      ': a JWKS publishes public keys, never an HMAC secret') as TrustedIssuerAlgorithm[],
    typ: typOf(options.typ, `${path}.typ`),
    mapUser: optionalFunction(options.mapUser, `${path}.mapUser`),
    // A cooldown or cache under a second would let tokens make the plugin fetch (nearly) per request; a fetch
    // may not wait over a minute.
    cacheTtlMs: toMilliseconds(options.cacheTtl ?? '10m', `${path}.cacheTtl`, { min: 1000 }),
    maxStaleMs: toMilliseconds(options.maxStale ?? '1h', `${path}.maxStale`, { min: 0 }),
    cooldownMs: toMilliseconds(options.cooldown ?? '30s', `${path}.cooldown`, { min: 1000 }),
    timeoutMs: toMilliseconds(options.timeout ?? '5s', `${path}.timeout`, { min: 1, max: 60_000 })
  }
}

/** Validates `trustedIssuers`: each issuer once, with its JWKS URL, audience and asymmetric algorithms. */
export function resolveTrustedIssuers (trustedIssuers: unknown): ResolvedTrustedIssuer[] {
  if (trustedIssuers === undefined) return []
  if (!Array.isArray(trustedIssuers)) {
    fail('trustedIssuers must be an array of { issuer, jwksUri, audience, algorithms }')
  }
  const resolved = trustedIssuers.map(resolveIssuer)
  const seen = new Set<string>()
  for (const [index, { issuer }] of resolved.entries()) {
    if (seen.has(issuer)) fail(`trustedIssuers[${index}].issuer: ${issuer} is listed twice`)
    seen.add(issuer)
  }
  return resolved
}

function legacyUntil (value: unknown): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN
  if (Number.isNaN(ms)) fail(`legacy.until must be a Date or an ISO 8601 date string (got ${JSON.stringify(value)})`)
  return ms
}

function legacyPublicKey (value: unknown, algorithms: string[]): string {
  let key: KeyObject
  try {
    if (value instanceof KeyObject) {
      key = value.type === 'private' ? createPublicKey(value) : value
    } else {
      const source = typeof value === 'string' || Buffer.isBuffer(value)
        ? value
        : { key: value as Jwk, format: 'jwk' as const }
      key = createPublicKey(source)
    }
  } catch (error) {
    return fail(`legacy.publicKey is not a valid public key (PEM, JWK or KeyObject): ${(error as Error).message}`)
  }
  for (const algorithm of algorithms) {
    if (key.type !== 'public') fail(`legacy.publicKey is a ${key.type} key, which ${algorithm} cannot use`)
    const misfit = keyMisfit(algorithm as TrustedIssuerAlgorithm, key)
    if (misfit !== undefined) fail(`legacy.publicKey is ${misfit}`)
  }
  return key.export({ type: 'spki', format: 'pem' }) as string
}

/** Validates `legacy`: a secret (HMAC) or a public key, its algorithms, and the date it ends. */
export function resolveLegacy (legacy: unknown): ResolvedLegacy | null {
  if (legacy === undefined) return null
  if (!isObject(legacy)) fail('legacy must be { secret | publicKey, algorithms, until, mapUser? }')
  checkKeys(legacy, LEGACY_OPTIONS, 'legacy')
  const { secret, publicKey } = legacy
  if ((secret === undefined) === (publicKey === undefined)) {
    fail('legacy needs a secret (HMAC) or a publicKey, exactly one')
  }
  let key: Buffer | string
  let algorithms: string[]
  if (secret !== undefined) {
    if ((typeof secret !== 'string' && !Buffer.isBuffer(secret)) || secret.length === 0) {
      fail('legacy.secret must be a non-empty string or Buffer: the secret @fastify/jwt signs with')
    }
    algorithms = algorithmList(legacy.algorithms, 'legacy.algorithms', HMAC, ' with a secret')
    key = Buffer.from(secret)
  } else {
    algorithms = algorithmList(legacy.algorithms, 'legacy.algorithms', ASYMMETRIC, ' with a publicKey')
    key = legacyPublicKey(publicKey, algorithms)
  }
  return {
    key,
    algorithms,
    untilMs: legacyUntil(legacy.until),
    mapUser: optionalFunction(legacy.mapUser, 'legacy.mapUser')
  }
}
