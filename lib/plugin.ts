import cookie from '@fastify/cookie'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { createApi } from './api.js'
import { createEvents } from './audit/events.js'
import { resolveOptions, type JwtAuthOptions } from './config/options.js'
import { createAuthenticate } from './request/authenticate.js'
import { createAuthorize } from './request/authorize.js'
import { installProtectByDefault } from './request/protect.js'
import { createCaptchas } from './routes/captchas.js'
import { authRoutes } from './routes/index.js'
import { createLockout } from './routes/lockout.js'
import { authHooks, installSwagger } from './routes/swagger.js'
import { memoryStore } from './stores/memory.js'
import { checkCapabilities, resolveStore } from './stores/resolve.js'
import { createJwt } from './tokens/jwt.js'
import { createPairs } from './tokens/pairs.js'
import { createRevocation } from './tokens/revocation.js'
import { createLoginSessions } from './tokens/sessions.js'
import type { AuthUser } from './types.js'
import { createCredentialCheck } from './users/credentials.js'
import { createUserCache } from './users/user-cache.js'
import { createUserLookup } from './users/user-lookup.js'

async function fastifyJwtAuth (app: FastifyInstance, options: JwtAuthOptions): Promise<void> {
  const config = resolveOptions(options)
  const { realm } = config
  // The default store is made once every option is valid, so its sweep timer never leaks.
  const given = config.store ?? memoryStore()
  // A marker must outlive every token it guards: any token of the family or
  // user was issued before the marker, so expires within the longest TTL.
  const markerTtl = Math.ceil(Math.max(config.accessTtl, config.refreshTtl) + config.clockTolerance) + 1
  const store = resolveStore(given, { timeoutMs: config.storeTimeoutMs, indexTtlSeconds: markerTtl })

  checkCapabilities(store, { lockout: config.routes?.lockout != null, userCache: config.userCacheTtl > 0 }, app.log)

  const jwt = createJwt(config)
  const pairs = createPairs(config, jwt)
  const revocation = createRevocation(store, markerTtl)
  const userCache = createUserCache(config.userCacheTtl, config.userCacheMax)
  const users = createUserLookup(config.users, userCache, store.userInvalidations)
  const sessions = createLoginSessions(config, store, jwt, pairs, revocation)
  const authenticate = createAuthenticate({ config, jwt, revocation, users })
  const authorize = createAuthorize(realm, authenticate)
  authHooks.add(authenticate)

  const emit = createEvents(config.onEvent, app.log)
  const { api, passwordFlows, emailVerification } = createApi({
    config, store, given, jwt, pairs, revocation, sessions, users, emit, log: app.log
  })

  if (config.cookies !== null && !app.hasPlugin('@fastify/cookie')) await app.register(cookie)

  // null until authenticate runs; typed as the user since routes read it after authenticate
  app.decorateRequest('user', null as unknown as AuthUser)
  app.decorateRequest('auth', null)
  app.decorate('authenticate', authenticate)
  app.decorate('authorize', (...roles: string[]) => {
    const hook = authorize(...roles)
    authHooks.add(hook)
    return hook
  })
  app.decorate('jwtAuth', api)

  const routeConfig = installSwagger(app, config)
  installProtectByDefault(app, config, authenticate)

  if (config.routes !== null) {
    const credentials = createCredentialCheck(config.users, api, app.log)
    app.addHook('onReady', async () => { await credentials.prepare() })
    await app.register(authRoutes, {
      prefix: config.routes.prefix,
      config,
      routes: config.routes,
      api,
      authenticate,
      store,
      sessions,
      captchas: config.routes.captcha === null ? null : await createCaptchas(config.routes.captcha, store.challenges),
      lockout: config.routes.lockout === null ? null : createLockout(config.routes.lockout, store),
      credentials,
      passwordFlows,
      emailVerification,
      emit,
      routeConfig
    })
  }

  // Last, once nothing else can fail register. The default store is the plugin's own: closed with the app. A
  // store you pass decides (a Redis store closes the connections it opened when its last app closes).
  const detach = store.attach({ log: app.log })
  app.addHook('onClose', async () => {
    await detach()
    if (config.store === undefined) await store.close?.()
  })
}

export const jwtAuth = fp(fastifyJwtAuth, { name: 'fastify-jwt-auth', fastify: '5.x' })
