import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { createAuthenticate } from './authenticate.js'
import { createAuthorize } from './authorize.js'
import { withChallenge } from './challenge.js'
import { createJwt } from './jwt.js'
import { resolveOptions, type JwtAuthOptions } from './options.js'
import { createPasswordHasher } from './passwords.js'
import { createSessions } from './sessions.js'
import { createStoreGuard } from './stores/guard.js'
import type { AuthUser, JwtAuthApi } from './types.js'
import { createUserCache } from './user-cache.js'

async function fastifyJwtAuth (app: FastifyInstance, options: JwtAuthOptions): Promise<void> {
  const config = resolveOptions(options)
  const { realm, store } = config
  const userCache = createUserCache(config.userCacheTtl, config.userCacheMax)
  const sessions = createSessions({
    config,
    jwt: createJwt(config),
    guard: createStoreGuard(config.storeTimeoutMs),
    userCache,
    log: app.log
  })
  const authenticate = createAuthenticate(config, sessions)

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
    invalidateUser: (userId) => userCache.delete(String(userId)),
    store
  }

  // null until authenticate runs; typed as the user since routes read it after authenticate
  app.decorateRequest('user', null as unknown as AuthUser)
  app.decorateRequest('auth', null)
  app.decorate('authenticate', authenticate)
  app.decorate('authorize', createAuthorize(realm, authenticate))
  app.decorate('jwtAuth', api)

  // Own what you open: only a store the plugin created is closed with the app.
  if (config.ownsStore) app.addHook('onClose', async () => { await store.close?.() })
}

export const jwtAuth = fp(fastifyJwtAuth, { name: 'fastify-jwt-auth', fastify: '5.x' })
