// POST /mfa/totp/setup and /mfa/totp/confirm, on every store that can hold MFA state: a setup of this session,
// replaced by the next one, confirmed by a code computed here from the secret; recovery codes shown once; what is
// stored is of no use without the key; hostile bodies are 400s, a broken store a 503.
import t from 'tap'
import { totpCode } from '../../lib/testing.js'
import { STORE_FACTORIES } from '../helpers/app.js'
import { buildMfaApp, flakyStore, sessionOf, type MfaApp } from '../helpers/mfa-app.js'

const STORES = STORE_FACTORIES.filter((store) => store.name !== 'key-value')

const setup = (app: MfaApp, headers: Record<string, string>) =>
  app.inject({ method: 'POST', url: '/auth/mfa/totp/setup', headers })
const confirm = (app: MfaApp, headers: Record<string, string>, code: unknown) =>
  app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm', headers, payload: { code } })

for (const { name, create } of STORES) {
  t.test(`${name}: setup gives a secret, its URI and QR; a code of it confirms; the codes are shown once`, async (t) => {
    const store = await create()
    t.teardown(() => store.close?.())
    const app = await buildMfaApp(t, { store })
    const alice = await sessionOf(app, '1')
    const answer = await setup(app, alice.headers)
    t.equal(answer.statusCode, 200)
    t.equal(answer.headers['cache-control'], 'no-store')
    const { secret, uri, qr } = answer.json()
    t.match(secret, /^[A-Z2-7]{32}$/, '160 bits in base32')
    t.equal(uri, `otpauth://totp/Example:alice?issuer=Example&secret=${secret}&algorithm=SHA1&digits=6&period=30`)
    t.match(qr, /^data:image\/svg\+xml;base64,/)
    t.match(Buffer.from(qr.split(',')[1], 'base64').toString(), /^<svg /)
    t.equal(app.factors.get('1'), undefined, 'nothing in the users table before the confirmation')

    const confirmed = await confirm(app, alice.headers, totpCode(secret))
    t.equal(confirmed.statusCode, 200)
    t.equal(confirmed.headers['cache-control'], 'no-store')
    const { recoveryCodes } = confirmed.json()
    t.equal(recoveryCodes.length, 10)
    for (const code of recoveryCodes) t.match(code, /^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/)
    t.equal(new Set(recoveryCodes).size, 10)
    const stored = app.factors.get('1')!
    t.match(stored.totp, /^v1\.default\./, 'the secret sealed')
    t.notOk(JSON.stringify(stored).includes(secret), 'never the secret in the clear')
    t.equal(stored.recoveryCodes.length, 10)
    t.notOk(recoveryCodes.some((code: string) => JSON.stringify(stored).includes(code.replace('-', ''))), 'nor a code')
    t.same(app.events.filter((event) => event.type.startsWith('mfa.')).map(({ type, userId }) => ({ type, userId })),
      [{ type: 'mfa.enable', userId: '1' }])

    t.equal((await setup(app, alice.headers)).statusCode, 409, 'TOTP on: a new setup is a 409')
    t.equal((await confirm(app, alice.headers, totpCode(secret, { timestamp: Date.now() + 30_000 }))).statusCode, 400,
      'the setup was spent')
  })
}

t.test('a second setup replaces an unconfirmed one; a wrong code leaves the setup; its code works once', async (t) => {
  const app = await buildMfaApp(t)
  const bob = await sessionOf(app, '2')
  const first = (await setup(app, bob.headers)).json().secret
  const second = (await setup(app, bob.headers)).json().secret
  t.not(first, second)
  const wrong = await confirm(app, bob.headers, totpCode(first))
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'FST_JWT_AUTH_INVALID_MFA_CODE')
  t.equal((await confirm(app, bob.headers, '000000')).statusCode, 401)
  t.equal((await confirm(app, bob.headers, totpCode(second))).statusCode, 200, 'the last setup\'s code')
})

t.test('a setup is confirmed by its own session only; of two sessions\' confirmations one wins', async (t) => {
  const app = await buildMfaApp(t)
  const [one, other] = [await sessionOf(app, '3'), await sessionOf(app, '3')]
  const secret = (await setup(app, one.headers)).json().secret
  const elsewhere = await confirm(app, other.headers, totpCode(secret))
  t.equal(elsewhere.statusCode, 400, 'another session of the user has no setup to confirm')
  t.equal(elsewhere.json().code, 'FST_JWT_AUTH_MFA_SETUP_NOT_FOUND')
  const mallory = await sessionOf(app, '2')
  t.equal((await confirm(app, mallory.headers, totpCode(secret))).statusCode, 400, 'nor another user')
  const otherSecret = (await setup(app, other.headers)).json().secret
  // Codes of two time steps: the user's steps are spent once, whatever the secret.
  const [a, b] = await Promise.all([
    confirm(app, one.headers, totpCode(secret)),
    confirm(app, other.headers, totpCode(otherSecret, { timestamp: Date.now() + 30_000 }))
  ])
  t.same([a.statusCode, b.statusCode].sort(), [200, 409], 'one TOTP per user: the other confirmation is a 409')
  t.equal((a.statusCode === 409 ? a : b).json().code, 'FST_JWT_AUTH_MFA_ALREADY_ENABLED')
})

t.test('hostile bodies and callers: 400 or 401, never a setup', async (t) => {
  const app = await buildMfaApp(t)
  const alice = await sessionOf(app, '1')
  t.equal((await setup(app, {})).statusCode, 401, 'no token')
  t.equal((await app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm', payload: { code: '123456' } })).statusCode, 401)
  await setup(app, alice.headers)
  for (const code of ['12345', '123456789', '12345a', ' 123456', null, { code: '1' }, '１２３４５６', '']) {
    t.equal((await confirm(app, alice.headers, code)).statusCode, 400, JSON.stringify(code))
  }
  // Fastify's validator coerces these to the string '123456', an ordinary wrong code; an extra field is removed.
  for (const code of [123456, ['123456']]) t.equal((await confirm(app, alice.headers, code)).statusCode, 401)
  const extra = await app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm', headers: alice.headers, payload: { code: '123456', secret: 'x' } })
  t.equal(extra.statusCode, 401, 'a field besides the code is dropped, never read')
  const big = await app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm', headers: { ...alice.headers, 'content-type': 'application/json' }, payload: `{"code":"${'1'.repeat(20_000)}"}` })
  t.equal(big.statusCode, 413, 'a large body is refused before parsing')
  t.equal(app.factors.size, 0)
})

t.test('a failing store is a 503 (setup and confirm)', async (t) => {
  const store = flakyStore()
  t.teardown(() => store.close())
  const app = await buildMfaApp(t, { store })
  const alice = await sessionOf(app, '1')
  for (const method of ['challenges.put', 'challenges.take', 'locks.lockedUntil', 'counters.increment', 'locks.lock']) {
    // A store that fails in the middle of a confirmation may lose the setup: the user starts again.
    const { secret } = (await setup(app, alice.headers)).json()
    store.failing.add(method)
    const call = method === 'challenges.put' ? setup(app, alice.headers) : confirm(app, alice.headers, totpCode(secret))
    t.equal((await call).statusCode, 503, method)
    store.failing.delete(method)
  }
  t.equal(app.factors.size, 0)
})

t.test('the API: a setup outside sessions; a user unknown to findById; off without the mfa option', async (t) => {
  const app = await buildMfaApp(t)
  const { secret } = await app.jwtAuth.mfa.setupTotp(1)
  await t.rejects(app.jwtAuth.mfa.confirmTotp(1, totpCode(secret), { familyId: 'other' }), { code: 'FST_JWT_AUTH_MFA_SETUP_NOT_FOUND' })
  t.equal((await app.jwtAuth.mfa.confirmTotp(1, totpCode(secret))).recoveryCodes.length, 10)
  await t.rejects(app.jwtAuth.mfa.setupTotp('404'), { code: 'FST_JWT_AUTH_USER_NOT_FOUND' })
  const { uri } = await app.jwtAuth.mfa.setupTotp('2', { familyId: 'f' })
  t.match(uri, /^otpauth:\/\/totp\/Example:bob\?/)

  await t.rejects(app.jwtAuth.mfa.regenerateRecoveryCodes('2'), { code: 'FST_JWT_AUTH_MFA_NOT_ENABLED' })
  await t.rejects(app.jwtAuth.mfa.disable('2'), { code: 'FST_JWT_AUTH_MFA_NOT_ENABLED' })
  const before = app.factors.get('1')!.recoveryCodes
  const { recoveryCodes } = await app.jwtAuth.mfa.regenerateRecoveryCodes(1, { ip: '10.0.0.1' })
  t.equal(recoveryCodes.length, 10)
  t.equal(app.factors.get('1')!.recoveryCodes.length, 10)
  t.notOk(app.factors.get('1')!.recoveryCodes.some((hash) => before.includes(hash)), 'none of the old ones')
  await app.jwtAuth.mfa.disable(1, { ip: '10.0.0.1' })
  t.equal(app.factors.get('1'), undefined, 'off: secret and codes gone')
  t.same(app.events.filter((event) => event.type.startsWith('mfa.')).map(({ type, userId, ip }) => [type, userId, ip]), [
    ['mfa.enable', '1', undefined], ['mfa.recovery_codes.regenerate', '1', '10.0.0.1'], ['mfa.disable', '1', '10.0.0.1']
  ])

  const plain = (await import('fastify')).default()
  t.teardown(() => plain.close())
  await plain.register((await import('../../lib/index.js')).default, { secret: 'x'.repeat(32) })
  const { mfa } = plain.jwtAuth
  const calls: Array<() => Promise<unknown>> = [() => mfa.setupTotp(1), () => mfa.confirmTotp(1, '123456'),
    () => mfa.disable(1), () => mfa.regenerateRecoveryCodes(1)]
  for (const call of calls) {
    await t.rejects(call(), { name: 'TypeError', message: /app\.jwtAuth\.mfa needs the mfa option/ })
  }
})

t.test('the account name in the URI: the username, else the email, else the id; an adapter finding no factors', async (t) => {
  const records = [
    { id: '5', username: '', email: 'erin@example.test', passwordHash: 'x', roles: [] },
    { id: '6', username: '', passwordHash: 'x', roles: [] }
  ]
  const app = await buildMfaApp(t, { records, users: (users) => ({ ...users, findFactors: async () => null }) })
  t.match((await app.jwtAuth.mfa.setupTotp('5')).uri, /^otpauth:\/\/totp\/Example:erin%40example\.test\?/)
  t.match((await app.jwtAuth.mfa.setupTotp('6')).uri, /^otpauth:\/\/totp\/Example:6\?/)
  await t.rejects(app.jwtAuth.mfa.regenerateRecoveryCodes('6'), { code: 'FST_JWT_AUTH_MFA_NOT_ENABLED' })
})

t.test('without the mfa option there are no MFA routes; with it, they have a rate limit class of their own', async (t) => {
  const Fastify = (await import('fastify')).default
  const jwtAuth = (await import('../../lib/index.js')).default
  const plain = Fastify()
  t.teardown(() => plain.close())
  await plain.register(jwtAuth, { secret: 'x'.repeat(32), routes: { captcha: false }, users: { findByLogin: async () => null } })
  t.equal((await plain.inject({ method: 'POST', url: '/auth/mfa/totp/setup' })).statusCode, 404)

  const app = await buildMfaApp(t, { options: { rateLimit: { mfa: { max: 2, timeWindow: '1 minute' } } } })
  const alice = await sessionOf(app, '1')
  const statuses = []
  for (let i = 0; i < 3; i++) statuses.push((await setup(app, alice.headers)).statusCode)
  t.same(statuses, [200, 200, 429])
  t.equal((await app.inject({ url: '/auth/me', headers: alice.headers })).statusCode, 200, 'another class\'s bucket')
})

t.test('Swagger documents the MFA routes, with the bearer scheme', async (t) => {
  const swagger = (await import('@fastify/swagger')).default
  const app = await buildMfaApp(t, { before: async (app) => { await app.register(swagger, { openapi: {} }) } })
  const { paths } = app.swagger() as unknown as { paths: Record<string, Record<string, { tags: string[], security?: unknown, responses: Record<string, unknown> }>> }
  for (const [path, method] of [['/auth/mfa/totp/setup', 'post'], ['/auth/mfa/totp/confirm', 'post'],
    ['/auth/mfa/recovery-codes', 'post'], ['/auth/mfa/totp', 'delete']] as const) {
    t.same(paths[path]?.[method]?.tags, ['mfa'], path)
    t.ok(Array.isArray(paths[path]?.[method]?.security), `${path}: authenticated`)
  }
  t.same(paths['/auth/mfa/verify']?.post?.tags, ['mfa'])
  t.equal(paths['/auth/mfa/verify']?.post?.security, undefined, 'the second step is public (the mfa_token is its proof)')
  t.ok(paths['/auth/login']?.post?.responses['200'], 'the login answers a pair or the MFA challenge')
})
