import cookie from '@fastify/cookie'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { createApi } from './api.js'
import { createEvents } from './audit/events.js'
import { sendLimitOption } from './config/account.js'
import { resolveOptions, type JwtAuthOptions } from './config/options.js'
import type { ResolvedRoutes } from './config/routes.js'
import { InvalidOptionError } from './errors.js'
import { createAuthenticate, ownTokensOnly } from './request/authenticate.js'
import { createAuthorize } from './request/authorize.js'
import { installProtectByDefault } from './request/protect.js'
import { installRouteChecks } from './request/route-checks.js'
import { createCaptchas } from './routes/captchas.js'
import type { RoutesContext } from './routes/context.js'
import { authRoutes } from './routes/index.js'
import { createLockout } from './routes/lockout.js'
import { authHooks, installSwagger } from './routes/swagger.js'
import { memoryStore } from './stores/memory.js'
import { checkCapabilities, resolveStore } from './stores/resolve.js'
import { createForeignTokens, type ForeignTokens } from './tokens/foreign.js'
import { reauthenticationVerifiers, type ReauthenticationVerifiers } from './tokens/authentication.js'
import { createJwt } from './tokens/jwt.js'
import { createPairs } from './tokens/pairs.js'
import { createRevocation } from './tokens/revocation.js'
import { createLoginSessions } from './tokens/sessions.js'
import type { AuthenticateHook, AuthUser, JwtAuthApi } from './types.js'
import { createUserCache } from './users/user-cache.js'
import { createUserLookup } from './users/user-lookup.js'

// A second registration would find its own decorators; @fastify/jwt puts its payload on request.user unless told
// otherwise.
function refuseTakenDecorators (app: FastifyInstance): void {
  if (app.hasDecorator('jwtAuth')) {
    throw new InvalidOptionError('fastify-jwt-auth is already registered on this instance or a parent of it: ' +
      'register it once, on the root (it is not encapsulated), and use its decorators everywhere')
  }
  if (!app.hasRequestDecorator('user')) return
  throw new InvalidOptionError('request.user is already decorated (by @fastify/jwt?): register @fastify/jwt ' +
    "first with decoratorName: 'jwtUser' (any name but user) and read its payload from request.jwtUser")
}

/** The decorators of the plugin's contract: request.user and request.auth, authenticate, authorize, jwtAuth. */
function decorate (
  app: FastifyInstance, authenticate: AuthenticateHook, authorize: ReturnType<typeof createAuthorize>, api: JwtAuthApi
): void {
  // null until authenticate runs; typed as the user since routes read it after authenticate
  app.decorateRequest('user', null as unknown as AuthUser)
  app.decorateRequest('auth', null)
  app.decorate('authenticate', authenticate)
  app.decorate('authorize', (...requirement: Parameters<typeof authorize>) => {
    const hook = authorize(...requirement)
    authHooks.add(hook)
    return hook
  })
  app.decorate('jwtAuth', api)
}

async function fastifyJwtAuth (app: FastifyInstance, options: JwtAuthOptions): Promise<void> {
  const config = resolveOptions(options)
  const { realm } = config
  refuseTakenDecorators(app)
  // Aborted when the app closes: a JWKS fetch in flight then ends at once.
  const closing = new AbortController()
  const foreign = createForeignTokens(config, { signal: closing.signal, log: app.log })
  if (config.legacy !== null && config.legacy.untilMs <= Date.now()) {
    app.log.warn('fastify-jwt-auth: legacy.until has passed, legacy tokens are refused; remove the legacy option')
  }
  // The default store is made once every option is valid, so its sweep timer never leaks.
  const given = config.store ?? memoryStore()
  // A marker must outlive every token it guards: any token of the family or
  // user was issued before the marker, so expires within the longest TTL.
  const markerTtl = Math.ceil(Math.max(config.accessTtl, config.refreshTtl) + config.clockTolerance) + 1
  const store = resolveStore(given, { timeoutMs: config.storeTimeoutMs, indexTtlSeconds: markerTtl })

  checkCapabilities(store, {
    lockout: config.routes?.lockout != null,
    sendLimit: config.routes === null ? undefined : sendLimitOption(config.routes),
    userCache: config.userCacheTtl > 0,
    mfa: config.mfa !== null
  }, app.log)

  const jwt = createJwt(config)
  const pairs = createPairs(config, jwt)
  const revocation = createRevocation(store, markerTtl)
  const userCache = createUserCache(config.userCacheTtl, config.userCacheMax)
  const users = createUserLookup(config.users, userCache, store.userInvalidations)
  const sessions = createLoginSessions(config, store, jwt, pairs, revocation)
  const authenticate = createAuthenticate({ config, jwt, revocation, users, foreign })
  const authorize = createAuthorize({
    realm,
    permissions: config.permissions,
    acr: config.acr,
    clockTolerance: config.clockTolerance,
    otherIssuers: foreign !== null
  }, authenticate)
  authHooks.add(authenticate)

  const emit = createEvents(config.onEvent, app.log)
  const { api, credentials, passwordFlows, emailVerification, mfa, passkeys } = createApi({
    config, store, given, jwt, pairs, revocation, sessions, users, emit, log: app.log
  })

  // Token cookies, and the attempt cookie that binds a provider sign-in to its browser.
  const needsCookies = config.cookies !== null || config.oauth !== null
  if (needsCookies && !app.hasPlugin('@fastify/cookie')) await app.register(cookie)

  decorate(app, authenticate, authorize, api)
  installRouteChecks(app)

  const routeConfig = installSwagger(app, config)
  installProtectByDefault(app, config, authenticate)

  // Filled in by the features with a proof of their own (a second factor's code): read at each request.
  const verifiers: ReauthenticationVerifiers = { code: mfa?.secondStep.codeVerifier }
  reauthenticationVerifiers.set(api, verifiers)
  if (config.routes !== null) {
    const account = { credentials, passwordFlows, emailVerification, users, verifiers }
    const parts = { config, api, authenticate, store, sessions, revocation, ...account, mfa, passkeys, emit }
    await registerRoutes(app, config.routes, { ...parts, foreign, routeConfig })
  }

  // Last, once nothing else can fail register; a store may wait here for its backend (bounded by the store). The
  // default store is the plugin's own: closed with the app. A store you pass decides (a Redis store closes the
  // connections it opened when its last app closes).
  const detach = await store.attach({ log: app.log })
  // Before the server waits for requests in flight: those waiting on a JWKS fetch then end (503) at once.
  app.addHook('preClose', async () => { closing.abort() })
  app.addHook('onClose', async () => {
    await detach()
    if (config.store === undefined) await store.close?.()
  })
}

type RoutesParts = Omit<RoutesContext, 'routes' | 'captchas' | 'lockout'> & { foreign: ForeignTokens | null }

/** The plugin's routes under their prefix; they act on its own login sessions, so take its own tokens only. */
async function registerRoutes (app: FastifyInstance, routes: ResolvedRoutes, parts: RoutesParts): Promise<void> {
  const { foreign, ...context } = parts
  const authenticate = ownTokensOnly(parts.authenticate, parts.config.realm, foreign)
  authHooks.add(authenticate)
  app.addHook('onReady', async () => { await parts.credentials.prepare() })
  await app.register(authRoutes, {
    ...context,
    prefix: routes.prefix,
    routes,
    authenticate,
    captchas: routes.captcha === null ? null : await createCaptchas(routes.captcha, parts.store.challenges),
    lockout: routes.lockout === null ? null : createLockout(routes.lockout, parts.store)
  })
}

export const jwtAuth = fp(fastifyJwtAuth, { name: 'fastify-jwt-auth', fastify: '5.x' })
