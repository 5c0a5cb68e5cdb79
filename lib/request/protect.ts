import type { FastifyInstance } from 'fastify'
import type { ResolvedOptions } from '../config/options.js'
import type { AuthenticateHook } from '../types.js'

/** Whether protectByDefault covers a route (matched by its URL pattern, never the raw URL). */
export function isProtectedByDefault (
  protect: ResolvedOptions['protectByDefault'],
  isPublic: boolean | undefined,
  url: string | undefined
): boolean {
  if (protect === null || isPublic === true || url === undefined) return false
  return !protect.publicPrefixes.some(
    (prefix) => url === prefix || url.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`)
  )
}

/**
 * protectByDefault: authenticate runs on every route of the app except those
 * with `config: { public: true }` (the plugin's login, refresh, captcha and
 * register routes are), those under a public prefix, and unmatched URLs (404).
 */
export function installProtectByDefault (
  app: FastifyInstance,
  config: ResolvedOptions,
  authenticate: AuthenticateHook
): void {
  if (config.protectByDefault === null) return
  const protect = config.protectByDefault
  app.addHook('onRequest', async function protectByDefault (request, reply) {
    if (isProtectedByDefault(
      protect,
      request.routeOptions.config.public,
      request.is404 ? undefined : request.routeOptions.url
    )) {
      await authenticate(request, reply)
    }
  })
}
