import cookie from '@fastify/cookie'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { createAuthenticate } from './request/authenticate.js'
import { createAuthorize } from './request/authorize.js'
import { createCaptchas } from './routes/captchas.js'
import { withChallenge } from './request/challenge.js'
import { createCredentialCheck } from './users/credentials.js'
import { createJwt } from './tokens/jwt.js'
import { toJwks } from './tokens/keys.js'
import { createLockout } from './routes/lockout.js'
import { resolveOptions, type JwtAuthOptions } from './config/options.js'
import { createPasswordHasher } from './users/passwords.js'
import { installProtectByDefault } from './request/protect.js'
import { authRoutes } from './routes/index.js'
import { createSessions } from './sessions.js'
import { createStoreGuard } from './stores/guard.js'
import { authHooks, installSwagger } from './routes/swagger.js'
import type { AuthUser, JwtAuthApi } from './types.js'
import { createUserCache } from './users/user-cache.js'

async function fastifyJwtAuth (app: FastifyInstance, options: JwtAuthOptions): Promise<void> {
  const config = resolveOptions(options)
  const { realm, store } = config
  const guard = createStoreGuard(config.storeTimeoutMs)
  const userCache = createUserCache(config.userCacheTtl, config.userCacheMax)
  const sessions = createSessions({ config, jwt: createJwt(config), guard, userCache, log: app.log })
  const authenticate = createAuthenticate(config, sessions)
  const authorize = createAuthorize(realm, authenticate)
  authHooks.add(authenticate)

  // Errors thrown to the app carry their RFC 6750 challenge, as from the hook.
  const challenged = <A extends unknown[], R>(operation: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await operation(...args)
      } catch (error) {
        throw withChallenge(error as Error, realm)
      }
    }

  const api: JwtAuthApi = {
    ...createPasswordHasher(config.password),
    issue: sessions.issue,
    refresh: challenged(sessions.refresh),
    verify: challenged(sessions.verify),
    revoke: challenged(sessions.revoke),
    revokeAll: sessions.revokeAll,
    sessions: sessions.sessions,
    revokeSession: sessions.revokeSession,
    invalidateUser: (userId) => userCache.delete(String(userId)),
    jwks: () => toJwks(config.signing.kind === 'keys' ? config.signing.keys : []),
    store
  }

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
      captchas: config.routes.captcha === null ? null : createCaptchas(config.routes.captcha, store, guard),
      lockout: config.routes.lockout === null ? null : createLockout(config.routes.lockout, store, guard),
      credentials,
      routeConfig
    })
  }

  // Own what you open: only a store the plugin created is closed with the app.
  if (config.ownsStore) app.addHook('onClose', async () => { await store.close?.() })
}

export const jwtAuth = fp(fastifyJwtAuth, { name: 'fastify-jwt-auth', fastify: '5.x' })
