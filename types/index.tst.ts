// Type tests of the published declarations (dist/, through the exports map).
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { expect, test } from 'tstyche'
import { generateKeyPairSync } from 'node:crypto'
import fastifyRedis from '@fastify/redis'
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import type { JWK } from 'jose'
import jwtAuth, {
  hashPassword, InvalidTokenError, jwtAuth as namedJwtAuth, memoryStore, needsRehash, StoreUnavailableError, StoreUnreachableError, verifyPassword,
  type AccessTokenClaims, type AuthContext, type AuthStore, type Jwk, type KeyInput, type KeyValueStore, type RefreshState, type RevocationScope, type AuthUser, type JwtAuthApi, type JwtAuthOptions, type SessionInfo, type SigningKey, type StoreContext, type TokenPair
} from 'fastify-jwt-auth'
import * as main from 'fastify-jwt-auth'
import {
  FAIL_FAST_OPTIONS, redisStore, RedisStore, type RedisClient, type RedisClusterOptions, type RedisConnectionOptions, type RedisStoreOptions
} from 'fastify-jwt-auth/redis'

const app = Fastify()

test('the plugin registers with its options', () => {
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: 'x'.repeat(32) })
  expect(app.register).type.toBeCallableWith(namedJwtAuth, {
    secret: Buffer.alloc(32),
    algorithm: 'HS512',
    issuer: 'api',
    audience: ['a', 'b'],
    accessTokenTtl: '15m',
    refreshTokenTtl: 604800,
    clockTolerance: 5,
    users: {
      findById: async (id: string) => ({ id, roles: ['admin'] }),
      findByLogin: async () => null
    },
    userCacheTtl: 0,
    store: memoryStore({ maxEntries: 10 }),
    storeTimeout: '1s',
    realm: 'api',
    password: { memoryCost: 65536 }
  })
})

test('rateLimit: shared options, per-class limits or false', () => {
  expect(app.register).type.toBeCallableWith(jwtAuth, {
    secret: 'x'.repeat(32),
    rateLimit: {
      max: 5,
      timeWindow: '1 minute',
      keyGenerator: (request: FastifyRequest) => request.ip,
      session: { max: 300 },
      captcha: false,
      jwks: { max: 10, timeWindow: 60_000 }
    }
  })
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: 'x'.repeat(32), rateLimit: false })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 'x'.repeat(32), rateLimit: { sesion: { max: 1 } } })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 'x'.repeat(32), rateLimit: { session: { redis: {} } } })
  expect<main.RouteClass>().type.toBe<'credentials' | 'session' | 'captcha' | 'jwks' | 'mfa'>()
})

test('account lifecycle: options, API overloads and events', () => {
  const options: JwtAuthOptions = {
    secret: 'x'.repeat(32),
    users: {
      findById: async () => null,
      findByLogin: async () => null,
      updatePasswordHash: async () => {},
      markEmailVerified: async (id) => { expect(id).type.toBe<string>() }
    },
    routes: {
      passwordReset: {
        send: async ({ user, token, expiresIn }) => {
          expect(token).type.toBe<string>()
          expect(expiresIn).type.toBe<number>()
          expect(user).type.toBe<main.AuthUser>()
        },
        ttl: '30m',
        perAccount: { max: 5, window: '1h' }
      },
      emailVerification: { send: () => {}, ttl: '1d', required: true, perAccount: false },
      passwordChange: false
    },
    onEvent: (event) => { expect(event.type).type.toBe<main.AuthEventType>() }
  }
  expect(app.register).type.toBeCallableWith(jwtAuth, options)
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 'x'.repeat(32), routes: { passwordReset: { ttl: '1h' } } })
  const perAccount: main.SendLimitOptions = { max: 3 }
  expect(perAccount.window).type.toBe<main.Duration | undefined>()
  expect(app.register).type.not.toBeCallableWith(jwtAuth, {
    secret: 'x'.repeat(32), routes: { passwordReset: { send: () => {}, perAccount: true } }
  })
  expect(app.jwtAuth.changePassword(1, 'new-password', { keepFamilyId: 'f' })).type.toBe<Promise<TokenPair>>()
  expect(app.jwtAuth.changePassword('1', 'new-password')).type.toBe<Promise<TokenPair | undefined>>()
  expect(app.jwtAuth.requestPasswordReset('alice', { ip: '::1' })).type.toBe<Promise<void>>()
  expect(app.jwtAuth.resetPassword('token', 'new-password')).type.toBe<Promise<void>>()
  expect(app.jwtAuth.requestEmailVerification(2)).type.toBe<Promise<void>>()
  expect(app.jwtAuth.verifyEmail('token')).type.toBe<Promise<void>>()
  expect(main.EVENT_CHANNEL).type.toBe<'fastify-jwt-auth:event'>()
})

test('findById may return a plain interface when JwtAuthTypes is not augmented', () => {
  interface PlainUser { id: number, name: string }
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: 'x', users: { findById: async (): Promise<PlainUser | null> => null } })
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: 'x', users: { findById: (): PlainUser | undefined => undefined } })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 'x', users: { findById: async () => 42 } })
})

test('wrong options fail to compile', () => {
  expect(app.register).type.not.toBeCallableWith(jwtAuth, {})
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 42 })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 'x', algorithm: 'RS256' })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 'x', accessTokenTtl: true })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 'x', users: { findById: 'nope' } })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 'x', store: { get: async () => null } })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 'x', acessTokenTtl: '5m' })
  expect<JwtAuthOptions>().type.not.toBeAssignableFrom({ secret: 'x', clockTolerance: '5s' })
})

test('decorators are typed', () => {
  expect(app.authenticate).type.toBe<(request: FastifyRequest, reply: FastifyReply) => Promise<void>>()
  expect(app.authorize).type.toBeCallableWith('admin', 'editor')
  expect(app.authorize).type.not.toBeCallableWith(1)
  expect(app.jwtAuth).type.toBe<JwtAuthApi>()
  expect(app.jwtAuth.issue({ id: 1, roles: ['admin'] })).type.toBe<Promise<TokenPair>>()
  expect(app.jwtAuth.issue).type.toBeCallableWith({ id: 'u1' }, { claims: { tenant: 'acme' } })
  expect(app.jwtAuth.issue).type.not.toBeCallableWith({ name: 'no id' })
  expect(app.jwtAuth.refresh('t')).type.toBe<Promise<TokenPair>>()
  expect(app.jwtAuth.verify('t')).type.toBe<Promise<AccessTokenClaims>>()
  expect(app.jwtAuth.revoke('t')).type.toBe<Promise<void>>()
  expect(app.jwtAuth.revokeAll).type.toBeCallableWith(1)
  expect(app.jwtAuth.invalidateUser).type.toBeCallableWith('1')
  expect(app.jwtAuth.invalidateUser(1)).type.toBe<Promise<void>>()
  expect(app.jwtAuth.hashPassword('pw')).type.toBe<Promise<string>>()
  expect(app.jwtAuth.verifyPassword('hash', 'pw')).type.toBe<Promise<boolean>>()
  expect(app.jwtAuth.needsRehash('hash')).type.toBe<boolean>()
  expect(app.jwtAuth.store).type.toBe<AuthStore | KeyValueStore>()
})

test('hooks accept authenticate and authorize', () => {
  expect(app.get).type.toBeCallableWith('/me', { onRequest: app.authenticate }, async () => 'ok')
  expect(app.get).type.toBeCallableWith('/admin', { preHandler: [app.authenticate, app.authorize('admin')] }, async () => 'ok')
})

test('request.user and request.auth are typed', () => {
  app.get('/me', { onRequest: app.authenticate }, async (request) => {
    expect(request.user).type.toBe<AuthUser>()
    expect(request.auth).type.toBe<AuthContext | null>()
    expect(request.auth?.claims.sub).type.toBe<string | undefined>()
    expect(request.auth?.claims.roles).type.toBe<string[] | undefined>()
    return 'ok'
  })
})

test('token pair and claims shapes', () => {
  expect<TokenPair>().type.toBe<{ accessToken: string, refreshToken: string, tokenType: 'Bearer', expiresIn: number, refreshExpiresIn: number }>()
  expect<AccessTokenClaims['fam']>().type.toBe<string>()
})

test('stores', () => {
  const ports: AuthStore = memoryStore()
  const keyValue: KeyValueStore = {
    set: async () => {},
    get: async () => null,
    take: async () => null,
    delete: async () => {}
  }
  expect(memoryStore()).type.toBeAssignableTo<AuthStore>()
  expect(memoryStore).type.not.toBeCallableWith({ maxEntries: '10' })
  expect(memoryStore).type.toBeCallableWith({ maxEntries: 10, maxEphemeralEntries: 5 })
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: 'x', store: keyValue })
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: 'x', store: ports, refreshGrace: 0 })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 'x', store: { get: async () => null } })
  expect({ get: async () => null }).type.not.toBeAssignableTo<AuthStore>()
  expect({ ...ports, revocations: { ...ports.revocations, peek: () => null } }).type.toBeAssignableTo<AuthStore>()
  expect({ ...ports, revocations: { ...ports.revocations, raise: async () => '1' } }).type.not.toBeAssignableTo<AuthStore>()
  expect(ports.refreshTokens.rotate({ family: 'f', jti: 'j', next: { jti: 'n', record: 'r' }, successor: 's', ttlSeconds: 1, graceSeconds: 0, generation: 1 }))
    .type.toBe<Promise<RefreshState | null>>()
  const absent = { state: 'absent', generation: 2 } as const
  expect({ ...ports, refreshTokens: { ...ports.refreshTokens, find: async () => absent } }).type.toBeAssignableTo<AuthStore>()
  expect({ state: 'absent', generation: '2' } as const).type.not.toBeAssignableTo<RefreshState>()
  expect({ ...keyValue, increment: async () => 1, advance: async () => 1 }).type.toBeAssignableTo<KeyValueStore>()
  expect({ ...keyValue, advance: async () => '1' }).type.not.toBeAssignableTo<KeyValueStore>()
})

test('redis store and sessions', () => {
  expect(redisStore({ url: 'redis://127.0.0.1:6379' })).type.toBe<RedisStore>()
  expect(redisStore).type.toBeCallableWith({ client: new Redis({ lazyConnect: true }), keyPrefix: 'app:' })
  expect(redisStore).type.toBeCallableWith({ cluster: { nodes: [{ host: '127.0.0.1', port: 7000 }] } })
  expect(redisStore).type.toBeCallableWith({ redisOptions: { sentinels: [{ host: '127.0.0.1', port: 26379 }], name: 'mymaster' } })
  expect(redisStore).type.not.toBeCallableWith({ url: 42 })
  expect(redisStore).type.toBeCallableWith({ url: 'redis://x', mirror: false })
  expect(redisStore).type.toBeCallableWith({ url: 'redis://x', mirror: { staleAfter: 500 } })
  expect(redisStore).type.not.toBeCallableWith({ url: 'redis://x', mirror: 'yes' })
  expect(redisStore).type.not.toBeCallableWith({ url: 'redis://x', mirror: { staleAfter: '1s' } })
  expect(redisStore({ url: 'redis://x' }).mirrorSynced).type.toBe<boolean>()
  expect(redisStore({ url: 'redis://x' }).revocations.peek).type.toBe<((scope: RevocationScope, id: string) => string | null | undefined) | undefined>()
  expect(redisStore({ url: 'redis://x' }).revocations.raise('user', '1', Date.now(), 60)).type.toBe<Promise<number>>()
  expect(redisStore).type.toBeCallableWith({ url: 'redis://x', maxEphemeral: 1000 })
  expect(redisStore).type.toBeCallableWith({ url: 'redis://x', closeWithApp: false })
  expect(redisStore).type.not.toBeCallableWith({ url: 'redis://x', closeWithApp: 'no' })
  expect(redisStore({ url: 'redis://x' }).detach()).type.toBe<Promise<void>>()
  expect(redisStore({ url: 'redis://x' })).type.toBeAssignableTo<AuthStore>()
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: 'x', store: redisStore({ url: 'redis://x' }) })
  expect(app.jwtAuth.sessions(1)).type.toBe<Promise<SessionInfo[]>>()
  expect(app.jwtAuth.revokeSession(1, 'family')).type.toBe<Promise<boolean>>()
  expect(app.jwtAuth.issue).type.toBeCallableWith({ id: 1 }, { metadata: { ip: '::1', userAgent: 'ua' } })
  expect(app.jwtAuth.refresh).type.toBeCallableWith('token', { ip: '::1' })
  expect(app.jwtAuth.issue).type.not.toBeCallableWith({ id: 1 }, { metadata: { ip: 1 } })
})

test('fastify-jwt-auth/redis only: the main entry has nothing of Redis', () => {
  expect(new RedisStore({ url: 'redis://x' })).type.toBe<RedisStore>()
  expect(main).type.not.toHaveProperty('redisStore')
  expect(main).type.not.toHaveProperty('RedisStore')
  expect(main).type.not.toHaveProperty('FAIL_FAST_OPTIONS')
  expect<RedisStoreOptions['client']>().type.toBe<RedisClient | undefined>()
})

test('RedisClient: ioredis\' Redis and Cluster, and app.redis of @fastify/redis, without the store\'s types naming ioredis', () => {
  expect<RedisClient>().type.toBeAssignableFrom(new Redis({ lazyConnect: true }))
  expect<RedisClient>().type.toBeAssignableFrom(new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true }))
  const withRedis = Fastify()
  withRedis.register(fastifyRedis, { url: 'redis://127.0.0.1:6379' })
  expect<RedisClient>().type.toBeAssignableFrom(withRedis.redis)
  expect(redisStore).type.toBeCallableWith({ client: withRedis.redis })
  expect<RedisClient>().type.not.toBeAssignableFrom({ status: 'ready' })
})

test('redisOptions and cluster options: the fields documented, and options typed by ioredis fit them', () => {
  expect(redisStore).type.toBeCallableWith({
    redisOptions: {
      sentinels: [{ host: '10.0.0.1', port: 26379 }],
      name: 'mymaster',
      role: 'master',
      sentinelPassword: 's',
      password: 'p',
      username: 'u',
      db: 2,
      tls: {},
      enableTLSForSentinelMode: true,
      sentinelTLS: { rejectUnauthorized: true },
      connectionName: 'app'
    }
  })
  expect(redisStore).type.toBeCallableWith({ redisOptions: { host: 'cache', port: 6380, tls: { servername: 'cache' }, retryStrategy: () => null } })
  expect(redisStore).type.not.toBeCallableWith({ redisOptions: { port: '6379' } })
  expect(redisStore).type.toBeCallableWith({
    cluster: { nodes: [7000, '10.0.0.2:7001', { host: '10.0.0.3', port: 7002 }], options: { redisOptions: { password: 'p', tls: {} }, scaleReads: 'slave' } }
  })
  expect(redisStore).type.not.toBeCallableWith({ cluster: { nodes: [{ host: 1 }] } })
  expect<RedisConnectionOptions>().type.toBeAssignableFrom<RedisOptions>()
  expect<RedisClusterOptions>().type.toBeAssignableFrom<ClusterOptions>()
  expect<RedisOptions>().type.toBeAssignableFrom(FAIL_FAST_OPTIONS)
  expect<RedisConnectionOptions>().type.toBeAssignableFrom(FAIL_FAST_OPTIONS)
})

test('readyTimeout and startOffline; the error of an unreachable store', () => {
  expect(redisStore).type.toBeCallableWith({ url: 'redis://x', readyTimeout: '10s', startOffline: true })
  expect(redisStore).type.toBeCallableWith({ url: 'redis://x', readyTimeout: 2 })
  expect(redisStore).type.not.toBeCallableWith({ url: 'redis://x', startOffline: 'yes' })
  expect(new StoreUnreachableError('where').code).type.toBe<'FST_JWT_AUTH_STORE_UNREACHABLE'>()
  // A store's attach may wait (the plugin awaits it).
  expect<AuthStore>().type.toBeAssignableFrom({ ...memoryStore(), attach: async (context: StoreContext) => { context.log.info({}, 'up') } })
  expect(redisStore({ url: 'redis://x' }).attach).type.toBe<(context: StoreContext) => Promise<void>>()
})

test('Jwk: node:crypto\'s export and jose\'s JWK fit it, whatever @types/node', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  expect<KeyInput>().type.toBeAssignableFrom(privateKey.export({ format: 'jwk' }))
  expect<Jwk>().type.toBeAssignableFrom(publicKey.export({ format: 'jwk' }))
  expect<Jwk>().type.toBeAssignableFrom<JWK>()
  expect<SigningKey>().type.toBeAssignableFrom({ kid: 'k', algorithm: 'ES256' as const, publicKey: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k', x5c: ['c'] } })
  expect<SigningKey>().type.not.toBeAssignableFrom({ kid: 'k', algorithm: 'ES256' as const, publicKey: { kty: 1 } })
})

test('asymmetric keys, JWKS and cookies', () => {
  const { privateKey } = generateKeyPairSync('ed25519')
  expect(app.register).type.toBeCallableWith(jwtAuth, { keys: [{ kid: 'k1', algorithm: 'EdDSA', privateKey }], routes: { jwks: true } })
  expect(app.register).type.toBeCallableWith(jwtAuth, { keys: [{ kid: 'k1', algorithm: 'ES256', privateKey: '-----BEGIN PRIVATE KEY-----' }, { kid: 'k0', algorithm: 'RS256', publicKey: { kty: 'RSA' } }] })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { keys: [{ kid: 'k1', algorithm: 'HS256', privateKey }] })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 'x', keys: [{ kid: 'k1', algorithm: 'EdDSA', privateKey }] })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { keys: [{ kid: 'k1', algorithm: 'EdDSA', privateKey }], algorithm: 'HS256' })
  expect(app.register).type.toBeCallableWith(jwtAuth, { secret: 'x', cookies: { accessToken: true, secure: false, sameSite: 'lax' } })
  expect(app.register).type.not.toBeCallableWith(jwtAuth, { secret: 'x', cookies: { sameSite: 'none' } })
  expect(app.jwtAuth.jwks()).type.toBe<{ keys: Array<Record<string, unknown>> }>()
  expect<SigningKey>().type.toBeAssignableFrom({ kid: 'a', algorithm: 'PS256' as const, publicKey: 'pem' })
})

test('password helpers and errors', () => {
  expect(hashPassword('pw')).type.toBe<Promise<string>>()
  expect(verifyPassword('h', 'pw')).type.toBe<Promise<boolean>>()
  expect(needsRehash('h')).type.toBe<boolean>()
  expect(new InvalidTokenError('bad').code).type.toBe<'FST_JWT_AUTH_INVALID_TOKEN'>()
  expect(new StoreUnavailableError().statusCode).type.toBe<503>()
  expect(new InvalidTokenError('bad').statusCode).type.toBe<401>()
  expect(main.foldLogin).type.toBe<(login: string) => string>()
  expect(new main.InvalidUsernameError('why').code).type.toBe<'FST_JWT_AUTH_INVALID_USERNAME'>()
  expect(new main.UsernameTakenError().statusCode).type.toBe<409>()
})
