import type { FastifyBaseLogger } from 'fastify'
import type { ForeignClaims, MapUser, TrustedIssuerClaims } from '../config/issuers.js'
import { fail } from '../config/check.js'
import type { ResolvedOptions } from '../config/options.js'
import { decodeSegment } from './foreign-checks.js'
import { ACCESS_TYP, REFRESH_TYP } from './jwt.js'
import { createLegacy } from './legacy.js'
import { createTrustedIssuer, type TrustedIssuer } from './trusted-issuers.js'
import { createVerifyCache } from './verify-cache.js'

/** A verified token of another issuer: who issued it, its claims, and how its user is found. */
export interface ForeignToken {
  /** The trusted issuer's `issuer`, or 'legacy'. */
  issuer: string
  claims: ForeignClaims
  mapUser: MapUser<never> | undefined
}

/** Where a token that is not the plugin's own goes (decided by looking at it, unverified). */
export type ForeignRoute =
  | { kind: 'cached', verified: ForeignToken }
  | { kind: 'trusted', issuer: TrustedIssuerEntry, header: Record<string, unknown> }
  | { kind: 'legacy', header: Record<string, unknown> }

interface HeaderInfo {
  header: Record<string, unknown>
  /** Its algorithm is a trusted issuer's and its kid none of ours: the payload's iss decides. */
  maybeTrusted: boolean
  /** Not typed as one of ours (at+jwt, rt+jwt): a legacy token, when legacy is configured. */
  legacy: boolean
}

interface CacheEntry extends ForeignToken {
  exp: number
  /** A trusted issuer's token: the key set it was verified with. */
  keySet?: { issuer: TrustedIssuer, generation: number }
}

interface TrustedIssuerEntry {
  issuer: string
  verifier: TrustedIssuer
  mapUser: MapUser<never> | undefined
}

// Headers seen, by their base64url text: the plugin's own tokens of one key share one. Filled up to this many
// and never evicted (a flood of made-up headers only means they are decoded again).
const HEADER_CACHE_SIZE = 16

/**
 * Tokens `authenticate` accepts besides the plugin's own: access tokens of trusted issuers and legacy tokens.
 * Null when neither is configured. `route` runs on the plugin's verify-cache misses only and looks at a token
 * cheaply (its header, and its payload's `iss` only when the header could be a trusted issuer's); `verify`
 * then checks it in full, with a verify cache of its own.
 */
export function createForeignTokens (
  config: ResolvedOptions, closing: { signal: AbortSignal, log: FastifyBaseLogger }
) {
  const { trustedIssuers, legacy: legacyOptions, clockTolerance } = config
  if (trustedIssuers.length === 0 && legacyOptions === null) return null
  for (const [index, { issuer }] of trustedIssuers.entries()) {
    if (issuer === config.issuer) fail(`trustedIssuers[${index}].issuer must differ from issuer (the plugin's own)`)
  }
  const issuers = new Map(trustedIssuers.map((options): [string, TrustedIssuerEntry] => [options.issuer, {
    issuer: options.issuer,
    verifier: createTrustedIssuer(options, clockTolerance, closing),
    mapUser: options.mapUser as MapUser<never> | undefined
  }]))
  const trustedAlgorithms = new Set<string>(trustedIssuers.flatMap((options) => options.algorithms))
  // An own token names one of our kids (with keys) or has an HMAC algorithm no trusted issuer may use.
  const ownKids = new Set(config.signing.kind === 'keys' ? config.signing.keys.map((key) => key.kid) : [])
  const legacy = legacyOptions === null ? null : createLegacy(legacyOptions, clockTolerance)
  const cache = createVerifyCache<CacheEntry>(config.verifyCacheMax, clockTolerance * 1000)
  const headers = new Map<string, HeaderInfo | undefined>()

  function headerInfo (segment: string): HeaderInfo | undefined {
    if (headers.has(segment)) return headers.get(segment)
    const header = decodeSegment(segment)
    const info = header === undefined
      ? undefined
      : {
          header,
          maybeTrusted: trustedAlgorithms.has(header.alg as string) && !ownKids.has(header.kid as string),
          legacy: legacy !== null && header.typ !== ACCESS_TYP && header.typ !== REFRESH_TYP
        }
    if (headers.size < HEADER_CACHE_SIZE) headers.set(segment, info)
    return info
  }

  // The cache keeps a copy of the claims: the request that verified the token may change its own.
  function remember (token: string, verified: ForeignToken, exp: number, keySet?: CacheEntry['keySet']): ForeignToken {
    cache.set(token, { ...verified, claims: { ...verified.claims }, exp, keySet })
    return verified
  }

  // A token of a trusted issuer counts as verified only with the key set it was verified with: a fetch since
  // (a new set, maybe without its key) sends it to be verified again.
  const current = ({ keySet }: CacheEntry): boolean =>
    keySet === undefined || keySet.generation === keySet.issuer.keys.generation

  // In seconds, as `exp`: the cache adds the tolerance back, so an entry ends just before `ms`.
  const cachedUntil = (ms: number): number => (ms - 1 - clockTolerance * 1000) / 1000

  return {
    /** Undefined: the plugin's own token (or garbage), for the plugin's own checks to judge. */
    route (token: string): ForeignRoute | undefined {
      const cached = cache.get(token)
      // A copy of the claims again, for the same reason.
      if (cached !== undefined && current(cached)) {
        const { issuer, claims, mapUser } = cached
        return { kind: 'cached', verified: { issuer, claims: { ...claims }, mapUser } }
      }
      const dot = token.indexOf('.')
      const info = dot === -1 ? undefined : headerInfo(token.slice(0, dot))
      if (info === undefined) return undefined
      if (info.maybeTrusted) {
        const end = token.indexOf('.', dot + 1)
        const iss = decodeSegment(token.slice(dot + 1, end === -1 ? undefined : end))?.iss
        const issuer = typeof iss === 'string' ? issuers.get(iss) : undefined
        if (issuer !== undefined) return { kind: 'trusted', issuer, header: info.header }
      }
      return info.legacy ? { kind: 'legacy', header: info.header } : undefined
    },

    /** The verified token, or a 401 (503 when a trusted issuer's keys cannot be fetched). */
    verify (route: ForeignRoute, token: string): ForeignToken | Promise<ForeignToken> {
      if (route.kind === 'cached') return route.verified
      if (route.kind === 'legacy') {
        const claims = legacy!.verify(token, route.header)
        // Cached until just before `until`: from then on they are refused.
        const end = cachedUntil(legacyOptions!.untilMs)
        const verified = { issuer: 'legacy', claims, mapUser: legacyOptions!.mapUser as MapUser<never> | undefined }
        return remember(token, verified, Math.min(claims.exp ?? end, end))
      }
      const { issuer, verifier, mapUser } = route.issuer
      const claims = verifier.verify(token, route.header)
      // Cached with the key set it was verified with, and no longer than that set is current: a key the issuer
      // removes takes its cached tokens with it.
      const done = (verified: TrustedIssuerClaims): ForeignToken => {
        const { generation, cacheableUntil } = verifier.keys
        const exp = Math.min(verified.exp, cachedUntil(cacheableUntil))
        return remember(token, { issuer, claims: verified, mapUser }, exp, { issuer: verifier, generation })
      }
      return claims instanceof Promise ? claims.then(done) : done(claims)
    }
  }
}

export type ForeignTokens = NonNullable<ReturnType<typeof createForeignTokens>>
