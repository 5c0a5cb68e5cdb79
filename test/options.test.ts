import Fastify from 'fastify'
import t from 'tap'
import jwtAuth, { InvalidOptionError, memoryStore, type JwtAuthOptions } from '../lib/index.js'
import { SECRET } from './helpers/app.js'

async function registerWith (options: unknown): Promise<unknown> {
  const app = Fastify()
  try {
    await app.register(jwtAuth, options as JwtAuthOptions)
    await app.ready()
    return null
  } catch (error) {
    return error
  } finally {
    await app.close()
  }
}

const cases: Array<[string, Record<string, unknown>, RegExp]> = [
  ['no secret', {}, /secret is required/],
  ['empty secret', { secret: '' }, /secret is required/],
  ['non-string secret', { secret: 1234 }, /secret must be a string or a Buffer/],
  ['short secret', { secret: 'too-short' }, /secret must be at least 32 bytes for HS256 \(got 9\)/],
  ['31-byte secret', { secret: 'x'.repeat(31) }, /at least 32 bytes/],
  ['HS384 with a 32-byte secret', { secret: 'x'.repeat(32), algorithm: 'HS384' }, /at least 48 bytes for HS384/],
  ['HS512 with a 48-byte secret', { secret: 'x'.repeat(48), algorithm: 'HS512' }, /at least 64 bytes for HS512/],
  ['unknown algorithm', { secret: SECRET, algorithm: 'none' }, /algorithm must be one of HS256, HS384, HS512 \(got none\)/],
  ['RS256 with a secret', { secret: SECRET, algorithm: 'RS256' }, /algorithm must be one of/],
  ['unknown option (typo)', { secret: SECRET, acessTokenTtl: '5m' }, /unknown option acessTokenTtl/],
  ['zero access ttl', { secret: SECRET, accessTokenTtl: 0 }, /accessTokenTtl must be a positive/],
  ['negative access ttl', { secret: SECRET, accessTokenTtl: -5 }, /accessTokenTtl must be a positive/],
  ['NaN refresh ttl', { secret: SECRET, refreshTokenTtl: Number.NaN }, /refreshTokenTtl must be a positive/],
  ['infinite refresh ttl', { secret: SECRET, refreshTokenTtl: Infinity }, /refreshTokenTtl/],
  ['ttl without unit', { secret: SECRET, accessTokenTtl: '15' }, /accessTokenTtl must be .* duration string such as '15m' \(got "15"\)/],
  ['ttl garbage', { secret: SECRET, refreshTokenTtl: 'forever' }, /refreshTokenTtl/],
  ['ttl unknown unit', { secret: SECRET, refreshTokenTtl: '5 fortnights' }, /refreshTokenTtl/],
  ['negative clockTolerance', { secret: SECRET, clockTolerance: -1 }, /clockTolerance must be a non-negative number of seconds/],
  ['string clockTolerance', { secret: SECRET, clockTolerance: '5s' }, /clockTolerance/],
  ['empty issuer', { secret: SECRET, issuer: '' }, /issuer must be a non-empty string/],
  ['numeric issuer', { secret: SECRET, issuer: 42 }, /issuer must be a non-empty string/],
  ['empty audience list', { secret: SECRET, audience: [] }, /audience must be/],
  ['bad audience entry', { secret: SECRET, audience: ['ok', 3] }, /audience must be/],
  ['users not an object', { secret: SECRET, users: 'db' }, /users must be an object/],
  ['users.findById not a function', { secret: SECRET, users: { findById: 'nope' } }, /users.findById must be a function/],
  ['users.findByLogin not a function', { secret: SECRET, users: { findByLogin: {} } }, /users.findByLogin must be a function/],
  ['negative userCacheTtl', { secret: SECRET, userCacheTtl: -1 }, /userCacheTtl must be a non-negative/],
  ['zero userCacheMax', { secret: SECRET, userCacheMax: 0 }, /userCacheMax must be a positive integer/],
  ['negative verifyCacheMax', { secret: SECRET, verifyCacheMax: -1 }, /verifyCacheMax must be 0 \(no cache\) or a positive integer \(got -1\)/],
  ['fractional verifyCacheMax', { secret: SECRET, verifyCacheMax: 1.5 }, /verifyCacheMax must be 0/],
  ['store not an object', { secret: SECRET, store: 'redis://' }, /store must be a store: memoryStore\(\), redisStore/],
  ['key-value store without take', { secret: SECRET, store: { set () {}, get () {}, delete () {} } }, /store.revocations is missing/],
  ['store with bad invalidations', { secret: SECRET, store: { ...memoryStore(), userInvalidations: { publish () {} } } }, /store.userInvalidations must have publish and listen/],
  ['store with invalidations without live', { secret: SECRET, store: { ...memoryStore(), userInvalidations: { publish () {}, listen () {} } } }, /and a boolean live/],
  ['store with a peek that is not a function', { secret: SECRET, store: { ...memoryStore(), revocations: { raise () {}, read () {}, peek: 1 } } }, /store.revocations.peek must be a function/],
  ['store with a detach that is not a function', { secret: SECRET, store: { ...memoryStore(), detach: 1 } }, /store.detach must be a function/],
  ['store with an attach that is not a function', { secret: SECRET, store: { ...memoryStore(), attach: 'yes' } }, /store.attach must be a function/],
  ['store port missing', { secret: SECRET, store: { ...memoryStore(), challenges: undefined } }, /store.challenges is missing/],
  ['store port without a method', { secret: SECRET, store: { ...memoryStore(), refreshTokens: { create () {}, find () {}, discard () {} } } }, /store.refreshTokens.rotate must be a function/],
  ['zero storeTimeout', { secret: SECRET, storeTimeout: 0 }, /storeTimeout must be a positive/],
  ['realm with a quote', { secret: SECRET, realm: 'a"b' }, /realm must be/],
  ['empty realm', { secret: SECRET, realm: '' }, /realm must be/],
  ['weak argon2 memory', { secret: SECRET, password: { memoryCost: 4096 } }, /password.memoryCost must be an integer of at least 19456/],
  ['weak argon2 time', { secret: SECRET, password: { timeCost: 1 } }, /password.timeCost must be an integer of at least 2/],
  ['password not an object', { secret: SECRET, password: 'strong' }, /password must be an object/],
  ['zero maxTokenLength', { secret: SECRET, maxTokenLength: 0 }, /maxTokenLength must be a positive integer/]
]

for (const [name, options, message] of cases) {
  t.test(`register fails on ${name}`, async (t) => {
    const error = await registerWith(options)
    t.ok(error instanceof InvalidOptionError, 'an InvalidOptionError')
    t.equal((error as { code?: string }).code, 'FST_JWT_AUTH_INVALID_OPTION')
    t.match((error as Error).message, /^fastify-jwt-auth: /)
    t.match((error as Error).message, message)
  })
}

t.test('register fails on options that are not an object', async (t) => {
  t.match(await registerWith(null), { code: 'FST_JWT_AUTH_INVALID_OPTION' })
})

t.test('good options register, in every accepted form', async (t) => {
  const accepted: Array<Partial<JwtAuthOptions>> = [
    { secret: SECRET },
    { secret: Buffer.alloc(32, 7) },
    { secret: 'x'.repeat(48), algorithm: 'HS384' },
    { secret: 'x'.repeat(64), algorithm: 'HS512' },
    { secret: SECRET, accessTokenTtl: 60, refreshTokenTtl: '30 days', userCacheTtl: 0, clockTolerance: 2.5 },
    { secret: SECRET, accessTokenTtl: '1 minute', audience: ['a', 'b'], issuer: 'iss', realm: 'my realm' },
    { secret: SECRET, password: { memoryCost: 65536, timeCost: 3, parallelism: 2 }, storeTimeout: 0.5 }
  ]
  for (const options of accepted) {
    t.equal(await registerWith(options), null, JSON.stringify(Object.keys(options)))
  }
})

t.test('the plugin is registered under its name, for dependency checks', async (t) => {
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET })
  app.register(async (child) => {
    t.ok(child.hasDecorator('authenticate'), 'decorators are visible to sibling plugins (fastify-plugin)')
  })
  await app.ready()
  t.ok(app.hasPlugin('fastify-jwt-auth'))
  await app.close()
})

t.test('resolveOptions refuses a non-object directly (Fastify itself refuses it earlier)', async (t) => {
  const { resolveOptions } = await import('../lib/config/options.js')
  t.throws(() => resolveOptions('secret' as unknown as JwtAuthOptions), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /options must be an object/ })
})

const findByLogin = async (): Promise<null> => null
const routeCases: Array<[string, Record<string, unknown>, RegExp]> = [
  ['routes without findByLogin', { secret: SECRET, routes: true }, /routes need users.findByLogin/],
  ['routes not an object', { secret: SECRET, routes: 'yes', users: { findByLogin } }, /routes must be true, false or an object/],
  ['a bad prefix', { secret: SECRET, routes: { prefix: 'auth' }, users: { findByLogin } }, /routes.prefix must be a path such as '\/auth' \(got "auth"\)/],
  ['a prefix with a trailing slash', { secret: SECRET, routes: { prefix: '/auth/' }, users: { findByLogin } }, /routes.prefix/],
  ['swaggerLogin not a boolean', { secret: SECRET, routes: { swaggerLogin: 'yes' }, users: { findByLogin } }, /routes.swaggerLogin must be a boolean/],
  ['passwordPolicy not a function', { secret: SECRET, routes: { passwordPolicy: /x/ }, users: { findByLogin } }, /routes.passwordPolicy must be a function/],
  ['captcha not an object', { secret: SECRET, routes: { captcha: 'svg' }, users: { findByLogin } }, /routes.captcha must be true, false or \{ ttl, create \}/],
  ['captcha.create not a function', { secret: SECRET, routes: { captcha: { create: 'x' } }, users: { findByLogin } }, /routes.captcha.create must be a function/],
  ['captcha.ttl zero', { secret: SECRET, routes: { captcha: { ttl: 0 } }, users: { findByLogin } }, /routes.captcha.ttl must be a positive/],
  ['lockout not an object', { secret: SECRET, routes: { lockout: true }, users: { findByLogin } }, /routes.lockout must be false or/],
  ['lockout.maxFailures zero', { secret: SECRET, routes: { lockout: { maxFailures: 0 } }, users: { findByLogin } }, /routes.lockout.maxFailures must be a positive integer/],
  ['lockout.window bad', { secret: SECRET, routes: { lockout: { window: '5' } }, users: { findByLogin } }, /routes.lockout.window/],
  ['lockout.duration bad', { secret: SECRET, routes: { lockout: { duration: -1 } }, users: { findByLogin } }, /routes.lockout.duration/],
  ['rateLimit not an object', { secret: SECRET, rateLimit: true }, /rateLimit must be false or @fastify\/rate-limit options/],
  ['users.create not a function', { secret: SECRET, users: { create: 1 } }, /users.create must be a function/]
]

for (const [name, options, message] of routeCases) {
  t.test(`register fails on ${name}`, async (t) => {
    const error = await registerWith(options)
    t.equal((error as { code?: string }).code, 'FST_JWT_AUTH_INVALID_OPTION')
    t.match((error as Error).message, message)
  })
}

t.test('route options in every accepted form', async (t) => {
  const accepted: Array<Partial<JwtAuthOptions>> = [
    { routes: false },
    { routes: true, users: { findByLogin } },
    { routes: { prefix: '/api/v1/auth', captcha: { ttl: '2m', create: () => ({ text: 'a', svg: '<svg/>' }) }, lockout: false, swaggerLogin: true }, users: { findByLogin } },
    { routes: { prefix: '', captcha: false, lockout: { maxFailures: 3, window: 60, duration: '1h' } }, users: { findByLogin }, rateLimit: false },
    { routes: { captcha: true }, users: { findByLogin }, rateLimit: { max: 100, timeWindow: 60_000 } }
  ]
  for (const options of accepted) {
    t.equal(await registerWith({ secret: SECRET, ...options }), null, JSON.stringify(options.routes))
  }
})
