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
  ['misspelt user lookup', { secret: SECRET, users: { findByID: async () => null } }, /unknown option users.findByID \(did you mean users.findById\?\)/],
  ['misspelt routes.captcha', { secret: SECRET, routes: { captha: false }, users: { findByLogin: async () => null } }, /unknown option routes.captha \(did you mean routes.captcha\?\)/],
  ['misspelt routes.prefix', { secret: SECRET, routes: { prefx: '/a' }, users: { findByLogin: async () => null } }, /unknown option routes.prefx \(did you mean routes.prefix\?\)/],
  ['misspelt publicPrefixes', { secret: SECRET, protectByDefault: { publicPrefix: ['/docs'] } }, /unknown option protectByDefault.publicPrefix \(did you mean protectByDefault.publicPrefixes\?\)/],
  ['misspelt cookies.accessToken', { secret: SECRET, cookies: { acessToken: true } }, /unknown option cookies.acessToken \(did you mean cookies.accessToken\?\)/],
  ['misspelt password.memoryCost', { secret: SECRET, password: { memorycost: 65536 } }, /unknown option password.memorycost \(did you mean password.memoryCost\?\)/],
  ['misspelt rateLimit.max', { secret: SECRET, rateLimit: { maxx: 5 } }, /unknown option rateLimit.maxx \(did you mean rateLimit.max\?\)/],
  ['misspelt lockout option', { secret: SECRET, routes: { lockout: { maxFailure: 3 } }, users: { findByLogin: async () => null } }, /unknown option routes.lockout.maxFailure \(did you mean routes.lockout.maxFailures\?\)/],
  ['misspelt captcha option', { secret: SECRET, routes: { captcha: { tll: '1m' } }, users: { findByLogin: async () => null } }, /unknown option routes.captcha.tll \(did you mean routes.captcha.ttl\?\)/],
  ['unknown option far from any', { secret: SECRET, somethingElse: 1 }, /unknown option somethingElse$/],
  ['top-level typo', { secret: SECRET, acessTokenTtl: '5m' }, /unknown option acessTokenTtl \(did you mean accessTokenTtl\?\)/],
  ['access ttl in milliseconds', { secret: SECRET, accessTokenTtl: 900000 }, /accessTokenTtl must be at most 1.0 days \(got 900000, 10.4 days\); numbers are seconds: 900000 ms would be '900s'/],
  ['access ttl longer than a day', { secret: SECRET, accessTokenTtl: '2d' }, /accessTokenTtl must be at most 1.0 days \(got "2d", 2.0 days\)$/],
  ['access ttl not shorter than refresh', { secret: SECRET, accessTokenTtl: '1h', refreshTokenTtl: '1h' }, /accessTokenTtl must be shorter than refreshTokenTtl \(got 3600 s and 3600 s\)/],
  ['access ttl under a second', { secret: SECRET, accessTokenTtl: 0.5 }, /accessTokenTtl must be at least 1 second \(got 0.5: such tokens expire at birth\)/],
  ['access ttl with a fraction of a second', { secret: SECRET, accessTokenTtl: '1500ms' }, /accessTokenTtl must be a whole number of seconds/],
  ['refresh ttl over 400 days', { secret: SECRET, refreshTokenTtl: '500d' }, /refreshTokenTtl must be at most 400.0 days/],
  ['upper-case unit', { secret: SECRET, accessTokenTtl: '15M' }, /accessTokenTtl must be a duration .* \(got "15M"\)/],
  ['unit not in the grammar', { secret: SECRET, accessTokenTtl: '15 mins' }, /accessTokenTtl must be a duration .* \(got "15 mins"\)/],
  ['empty duration', { secret: SECRET, accessTokenTtl: ' ' }, /accessTokenTtl must be a duration/],
  ['zero access ttl', { secret: SECRET, accessTokenTtl: 0 }, /accessTokenTtl must be a duration such as '15m'/],
  ['negative access ttl', { secret: SECRET, accessTokenTtl: -5 }, /accessTokenTtl must be a duration/],
  ['NaN refresh ttl', { secret: SECRET, refreshTokenTtl: Number.NaN }, /refreshTokenTtl must be a duration/],
  ['infinite refresh ttl', { secret: SECRET, refreshTokenTtl: Infinity }, /refreshTokenTtl/],
  ['ttl without unit', { secret: SECRET, accessTokenTtl: '15' }, /accessTokenTtl must be a duration such as '15m', '1h30m', '7d' or '1 hour' .* \(got "15"\)/],
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
  ['negative userCacheTtl', { secret: SECRET, userCacheTtl: -1 }, /userCacheTtl must be 0 or a duration/],
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
  ['zero storeTimeout', { secret: SECRET, storeTimeout: 0 }, /storeTimeout must be a duration/],
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

t.test('one duration grammar: compact and long units, combined parts, numbers of seconds', async (t) => {
  const { toSeconds } = await import('../lib/config/duration.js')
  const cases: Array<[unknown, number]> = [
    ['15m', 900], ['1h30m', 5400], ['1 hour 30 minutes', 5400], ['7d', 604_800], ['2w', 1_209_600], ['1.5h', 5400],
    ['250ms', 0.25], ['10 seconds', 10], [' 5s ', 5], [90, 90], ['1d12h', 129_600]
  ]
  for (const [value, seconds] of cases) t.equal(toSeconds(value, 'x'), seconds, JSON.stringify(value))
  for (const value of ['15M', '15 mins', '1h 30', 'h', '', '-5m', '15', '1e3s', null, {}]) {
    t.throws(() => toSeconds(value, 'x'), { code: 'FST_JWT_AUTH_INVALID_OPTION' }, JSON.stringify(value))
  }
  t.equal(toSeconds(0, 'x', { allowZero: true }), 0)
})

t.test('store options name a misspelt option too', async (t) => {
  t.throws(() => memoryStore({ maxEntry: 5 } as never), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /memoryStore: unknown option maxEntry \(did you mean maxEntries\?\)/ })
  const { redisStore } = await import('../lib/stores/redis.js')
  t.throws(() => redisStore({ urll: 'redis://x' } as never), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /redisStore: unknown option urll \(did you mean url\?\)/ })
  t.throws(() => redisStore({ url: 'redis://x', mirror: { staleafter: 500 } } as never), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /redisStore: unknown option mirror.staleafter \(did you mean mirror.staleAfter\?\)/ })
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
const send = async () => {}
const accountUsers = { findByLogin, findById: findByLogin, updatePasswordHash: send, markEmailVerified: send }
const routeCases: Array<[string, Record<string, unknown>, RegExp]> = [
  ['routes without findByLogin', { secret: SECRET, routes: true }, /routes need users.findByLogin/],
  ['routes not an object', { secret: SECRET, routes: 'yes', users: { findByLogin } }, /routes must be true, false or an object/],
  ['a bad prefix', { secret: SECRET, routes: { prefix: 'auth' }, users: { findByLogin } }, /routes.prefix must be a path such as '\/auth' \(got "auth"\)/],
  ['a prefix with a trailing slash', { secret: SECRET, routes: { prefix: '/auth/' }, users: { findByLogin } }, /routes.prefix/],
  ['swaggerLogin not a boolean', { secret: SECRET, routes: { swaggerLogin: 'yes' }, users: { findByLogin } }, /routes.swaggerLogin must be a boolean/],
  ['passwordPolicy not a function', { secret: SECRET, routes: { passwordPolicy: /x/ }, users: { findByLogin } }, /routes.passwordPolicy must be a function/],
  ['captcha not an object', { secret: SECRET, routes: { captcha: 'svg' }, users: { findByLogin } }, /routes.captcha must be true, false or \{ ttl, create \}/],
  ['captcha.create not a function', { secret: SECRET, routes: { captcha: { create: 'x' } }, users: { findByLogin } }, /routes.captcha.create must be a function/],
  ['captcha.ttl zero', { secret: SECRET, routes: { captcha: { ttl: 0 } }, users: { findByLogin } }, /routes.captcha.ttl must be a duration/],
  ['lockout not an object', { secret: SECRET, routes: { lockout: true }, users: { findByLogin } }, /routes.lockout must be false or/],
  ['lockout.maxFailures zero', { secret: SECRET, routes: { lockout: { maxFailures: 0 } }, users: { findByLogin } }, /routes.lockout.maxFailures must be a positive integer/],
  ['lockout.window bad', { secret: SECRET, routes: { lockout: { window: '5' } }, users: { findByLogin } }, /routes.lockout.window/],
  ['lockout.duration bad', { secret: SECRET, routes: { lockout: { duration: -1 } }, users: { findByLogin } }, /routes.lockout.duration/],
  ['rateLimit not an object', { secret: SECRET, rateLimit: true }, /rateLimit must be false or @fastify\/rate-limit options/],
  ['users.create not a function', { secret: SECRET, users: { create: 1 } }, /users.create must be a function/],
  ['misspelt passwordReset.send', { secret: SECRET, routes: { passwordReset: { sned: send } }, users: accountUsers }, /unknown option routes.passwordReset.sned \(did you mean routes.passwordReset.send\?\)/],
  ['passwordReset without send', { secret: SECRET, routes: { passwordReset: {} }, users: accountUsers }, /routes.passwordReset.send must be a function/],
  ['passwordReset not an object', { secret: SECRET, routes: { passwordReset: true }, users: accountUsers }, /routes.passwordReset must be an object/],
  ['passwordReset without updatePasswordHash', { secret: SECRET, routes: { passwordReset: { send } }, users: { findByLogin, findById: findByLogin } }, /routes.passwordReset needs users.updatePasswordHash/],
  ['passwordReset.ttl bad', { secret: SECRET, routes: { passwordReset: { send, ttl: '30 mins' } }, users: accountUsers }, /routes.passwordReset.ttl/],
  ['emailVerification without markEmailVerified', { secret: SECRET, routes: { emailVerification: { send } }, users: { findByLogin } }, /routes.emailVerification needs users.findById and users.markEmailVerified/],
  ['emailVerification.required not a boolean', { secret: SECRET, routes: { emailVerification: { send, required: 'yes' } }, users: accountUsers }, /routes.emailVerification.required must be a boolean/],
  ['misspelt emailVerification option', { secret: SECRET, routes: { emailVerification: { send, requried: true } }, users: accountUsers }, /unknown option routes.emailVerification.requried \(did you mean routes.emailVerification.required\?\)/],
  ['passwordChange without its callbacks', { secret: SECRET, routes: { passwordChange: true }, users: { findByLogin } }, /routes.passwordChange needs users.findById and users.updatePasswordHash/],
  ['passwordChange not a boolean', { secret: SECRET, routes: { passwordChange: 1 }, users: accountUsers }, /routes.passwordChange must be a boolean/],
  ['misspelt markEmailVerified', { secret: SECRET, users: { markEmailVerifed: send } }, /unknown option users.markEmailVerifed \(did you mean users.markEmailVerified\?\)/],
  ['onEvent not a function', { secret: SECRET, onEvent: 'audit' }, /onEvent must be a function/]
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
    { routes: { captcha: true }, users: { findByLogin }, rateLimit: { max: 100, timeWindow: 60_000 } },
    { routes: { passwordReset: { send, ttl: '1h' }, emailVerification: { send, ttl: '2d', required: true }, passwordChange: false }, users: accountUsers, onEvent: () => {} },
    { routes: { passwordReset: false, emailVerification: false }, users: { findByLogin } }
  ]
  for (const options of accepted) {
    t.equal(await registerWith({ secret: SECRET, ...options }), null, JSON.stringify(options.routes))
  }
})
