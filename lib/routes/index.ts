import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import type { RouteClass } from '../config/rate-limit.js'
import { captchaRoute } from './captcha.js'
import { emailRoutes } from './email.js'
import type { RoutesContext } from './context.js'
import { jwksRoute } from './jwks.js'
import { loginRoutes } from './login.js'
import { mfaRoutes } from './mfa.js'
import { identityRoutes } from './identities.js'
import { oauthRoutes } from './oauth.js'
import { passkeyAccountRoutes, passkeyLoginRoutes } from './passkeys.js'
import { passwordRoutes } from './password.js'
import { rateLimitOptions } from './rate-limit.js'
import { reauthenticateRoute } from './reauthenticate.js'
import { registerRoute } from './register.js'
import { sessionRoutes } from './session.js'

type Routes = (app: FastifyInstance, context: RoutesContext) => Promise<void>

const ROUTES_BY_CLASS: Array<[RouteClass, Routes[]]> = [
  ['captcha', [captchaRoute]],
  ['credentials', [
    loginRoutes, registerRoute, passwordRoutes, emailRoutes, reauthenticateRoute, oauthRoutes, passkeyLoginRoutes
  ]],
  ['session', [sessionRoutes, identityRoutes]],
  ['jwks', [jwksRoute]],
  ['mfa', [mfaRoutes, passkeyAccountRoutes]]
]

/**
 * The auth routes, in their own encapsulated context under the prefix; each
 * class of route in a context of its own, with its own rate limiter (its own
 * bucket per client). An app's own global @fastify/rate-limit applies on top.
 */
export async function authRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  // Auth bodies are small: refuse large ones before parsing.
  app.addHook('onRoute', (route) => { route.bodyLimit ??= 16 * 1024 })
  for (const [routeClass, routes] of ROUTES_BY_CLASS) {
    await app.register(async (scope) => {
      const limits = context.config.rateLimit?.[routeClass] ?? null
      if (limits !== null) await scope.register(rateLimit, rateLimitOptions(limits, routeClass, context.store.source))
      for (const route of routes) await route(scope, context)
    })
  }
}
