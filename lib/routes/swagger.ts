import type { FastifyInstance, RouteOptions } from 'fastify'
import type { ResolvedOptions } from '../config/options.js'
import { requiredNames } from '../request/authorize.js'
import { isProtectedByDefault } from '../request/protect.js'

interface SwaggerTransformInput {
  openapiObject?: { components?: { securitySchemes?: Record<string, unknown> } }
  swaggerObject?: { securityDefinitions?: Record<string, unknown> }
}

/** Hooks that authenticate: `authenticate` and every hook made by `authorize`. */
export const authHooks = new WeakSet<object>()

const AUTH_HOOK_NAMES = ['onRequest', 'preParsing', 'preValidation', 'preHandler'] as const

function asList (hooks: unknown): unknown[] {
  if (hooks === undefined || hooks === null) return []
  return Array.isArray(hooks) ? hooks : [hooks]
}

const hasAuthHook = (hooks: unknown): boolean => asList(hooks).some((hook) => authHooks.has(hook as object))

/**
 * The names the route's authorize hooks require (roles, permissions, scopes), for its OpenAPI `security`: its own
 * hooks and its context's (none when Fastify keeps them where they cannot be found).
 */
export function requiredBy (route: RouteOptions, context: Record<string, unknown> | undefined): string[] {
  const sources = [route as unknown as Record<string, unknown>, context ?? {}]
  const names = sources.flatMap((hooks) => AUTH_HOOK_NAMES.flatMap((name) =>
    asList(hooks[name]).flatMap((hook) => requiredNames.get(hook as object) ?? [])))
  return [...new Set(names)]
}

// Hooks added with instance.addHook() are not in the route options; Fastify
// keeps them under its 'fastify.hooks' symbol, which is looked up by name so a
// Fastify without it only loses this detection.
export function contextHooks (instance: object): Record<string, unknown> | undefined {
  for (let scope: object | null = instance; scope !== null; scope = Object.getPrototypeOf(scope)) {
    const symbol = Object.getOwnPropertySymbols(scope).find((candidate) => candidate.description === 'fastify.hooks')
    if (symbol !== undefined) return (scope as Record<symbol, Record<string, unknown>>)[symbol]
  }
  return undefined
}

function usesAuthenticationHooks (route: RouteOptions, config: ResolvedOptions): boolean {
  return isProtectedByDefault(config.protectByDefault, route.config?.public, route.url) ||
    AUTH_HOOK_NAMES.some((name) => hasAuthHook(route[name]))
}

function hasContextAuthHook (instance: object): boolean {
  const hooks = contextHooks(instance)
  return hooks !== undefined && AUTH_HOOK_NAMES.some((name) => hasAuthHook(hooks[name]))
}

/**
 * With @fastify/swagger registered first: marks every authenticated route
 * with the bearer scheme (and the password-flow scheme with swaggerLogin).
 * Returns the route config that adds the schemes to the document, for the
 * plugin's own routes; {} without @fastify/swagger.
 */
export function installSwagger (app: FastifyInstance, config: ResolvedOptions): Record<string, unknown> {
  if (!app.hasPlugin('@fastify/swagger')) return {}
  // OpenAPI 3 schemes, and their Swagger 2.0 equivalents (2.0 has no bearer type).
  const schemes: Record<string, unknown> = { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } }
  const definitions: Record<string, unknown> = {
    bearerAuth: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'Bearer <access token>' }
  }
  if (config.routes?.swaggerLogin === true) {
    const tokenUrl = `${config.routes.prefix}/swagger-login`
    const description = 'Username and password (development only)'
    schemes.swaggerLogin = { type: 'oauth2', description, flows: { password: { tokenUrl, scopes: {} } } }
    definitions.swaggerLogin = { type: 'oauth2', description, flow: 'password', tokenUrl, scopes: {} }
  }
  // What a route requires is listed under each scheme (OpenAPI 3.1 allows role names for any scheme).
  const securityFor = (names: string[]) => Object.keys(schemes).map((name) => ({ [name]: names }))

  const mark = (route: RouteOptions, instance: object): void => {
    if ((route.schema as { security?: unknown } | undefined)?.security !== undefined) return
    const security = securityFor(requiredBy(route, contextHooks(instance)))
    route.schema = { ...route.schema, security } as RouteOptions['schema']
  }
  // Context hooks (instance.addHook) are only in place once the app is ready, so every route is looked at
  // then. @fastify/swagger keeps the same route objects and builds the document after ready.
  let pending: Array<{ instance: object, route: RouteOptions }> = []
  app.addHook('onRoute', function collectRoute (route) { pending.push({ instance: this, route }) })
  app.addHook('onReady', async () => {
    for (const { instance, route } of pending) {
      if (usesAuthenticationHooks(route, config) || hasContextAuthHook(instance)) mark(route, instance)
    }
    pending = []
  })

  return {
    // @fastify/swagger passes the document being built to this per-route transform.
    swaggerTransform ({ openapiObject, swaggerObject }: SwaggerTransformInput) {
      if (openapiObject !== undefined) {
        openapiObject.components ??= {}
        openapiObject.components.securitySchemes = { ...schemes, ...openapiObject.components.securitySchemes }
      } else if (swaggerObject !== undefined) {
        swaggerObject.securityDefinitions = { ...definitions, ...swaggerObject.securityDefinitions }
      }
      return {}
    }
  }
}
