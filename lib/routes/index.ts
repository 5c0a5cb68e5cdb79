import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import { captchaRoute } from './captcha.js'
import type { RoutesContext } from './context.js'
import { jwksRoute } from './jwks.js'
import { loginRoutes } from './login.js'
import { rateLimitOptions } from './rate-limit.js'
import { registerRoute } from './register.js'
import { sessionRoutes } from './session.js'

/** The auth routes, in their own encapsulated context under the prefix. */
export async function authRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const limits = context.config.rateLimit
  if (limits !== null) {
    if (app.hasDecorator('rateLimit')) {
      // The app registered @fastify/rate-limit itself: use it, with our limits in our routes' config.
      context = { ...context, routeConfig: { ...context.routeConfig, rateLimit: limits } }
    } else {
      await app.register(rateLimit, rateLimitOptions(limits, context.store.source))
    }
  }
  // Auth bodies are small: refuse large ones before parsing.
  app.addHook('onRoute', (route) => { route.bodyLimit ??= 16 * 1024 })

  await captchaRoute(app, context)
  await loginRoutes(app, context)
  await sessionRoutes(app, context)
  await registerRoute(app, context)
  await jwksRoute(app, context)
}
