import type { FastifyInstance, RouteOptions } from 'fastify'
import { EarlyRouteError, UndefinedHookError } from '../errors.js'

// The hooks a route can authenticate or authorize in.
const REQUEST_HOOKS = ['onRequest', 'preParsing', 'preValidation', 'preHandler'] as const

/** Marks, in a route's config, the routes declared once the plugin had loaded (the onRoute hook saw them). */
const CHECKED = Symbol('fastify-jwt-auth.checked')

const HOOK_FIX = 'declare the route once the plugin has loaded (`await app.register(jwtAuth, ...)` first, or ' +
  'in a plugin registered after it), and leave out a hook key you do not use rather than setting it to undefined'

/**
 * Routes that could be left open by a hook that did not exist when they were declared, such as
 * `{ onRequest: app.authenticate }` right after `app.register(jwtAuth, ...)` without `await`.
 *
 * A route declared once the plugin has loaded is checked as it is declared: a request hook option present but
 * undefined fails startup. A route declared on the plugin's own instance before it loaded cannot be seen
 * (Fastify runs onRoute hooks only for later routes) and its options are gone: it fails closed at request time,
 * with a 500 naming it and the fix, unless its config marks it public.
 */
export function installRouteChecks (app: FastifyInstance): void {
  app.addHook('onRoute', function checkHooks (route: RouteOptions) {
    for (const hook of REQUEST_HOOKS) {
      if (Object.hasOwn(route, hook) && route[hook] === undefined) {
        throw new UndefinedHookError(`${String(route.method)} ${route.url}`, hook, HOOK_FIX)
      }
    }
    route.config = { ...route.config, [CHECKED]: true } as typeof route.config
  })

  // Fastify logs each of these 500s with its message, which names the route and the fix.
  app.addHook('onRequest', function refuseEarlyRoutes (request, reply, done) {
    // Routes of other instances were declared in contexts made after the plugin loaded: all checked.
    if (request.server !== app || request.is404) {
      done()
      return
    }
    const { config, method, url } = request.routeOptions
    if ((config as { [CHECKED]?: boolean })[CHECKED] === true || config.public === true) {
      done()
      return
    }
    done(new EarlyRouteError(`${String(method)} ${String(url)}`))
  })
}
