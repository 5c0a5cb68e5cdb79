import { createHmac, createSecretKey, generateKeyPairSync } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import t from 'tap'
import jwtAuth, { type JwtAuthOptions, type SigningKey } from '../lib/index.js'
import { AUDIENCE, bearer, decodePart, ISSUER, SECRET } from './helpers/app.js'
import { type Alg, generate } from './helpers/keys.js'

const ALGORITHMS: Alg[] = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']
const pairs = Object.fromEntries(ALGORITHMS.map((alg) => [alg, generate(alg)])) as Record<Alg, ReturnType<typeof generate>>

async function keysApp (keys: SigningKey[], extra: Record<string, unknown> = {}) {
  const app = Fastify()
  await app.register(jwtAuth, { keys, issuer: ISSUER, audience: AUDIENCE, ...extra } as JwtAuthOptions)
  app.get('/me', { onRequest: app.authenticate }, async (request) => request.auth?.claims)
  await app.ready()
  return app
}

for (const alg of ALGORITHMS) {
  t.test(`${alg}: sign with the first key, verify, refresh, revoke`, async (t) => {
    const app = await keysApp([{ kid: `${alg}-1`, algorithm: alg, privateKey: pairs[alg].privateKey }])
    t.teardown(() => app.close())
    const pair = await app.jwtAuth.issue({ id: 1 })
    t.same(decodePart(pair.accessToken, 0), { alg, typ: 'at+jwt', kid: `${alg}-1` })
    t.same(decodePart(pair.refreshToken, 0), { alg, typ: 'rt+jwt', kid: `${alg}-1` })
    t.equal((await app.inject({ url: '/me', headers: bearer(pair.accessToken) })).statusCode, 200)
    const rotated = await app.jwtAuth.refresh(pair.refreshToken)
    t.equal((await app.jwtAuth.verify(rotated.accessToken)).sub, '1')
    await app.jwtAuth.revoke(rotated.accessToken)
    t.equal((await app.inject({ url: '/me', headers: bearer(rotated.accessToken) })).statusCode, 401)
  })
}

t.test('keys as PEM strings, PEM Buffers, JWK objects or KeyObjects', async (t) => {
  const { privateKey, publicKey } = pairs.ES256
  const forms: Array<[string, SigningKey]> = [
    ['PEM strings', { kid: 'a', algorithm: 'ES256', privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string }],
    ['SEC1 private PEM', { kid: 'a', algorithm: 'ES256', privateKey: privateKey.export({ type: 'sec1', format: 'pem' }) as string }],
    ['PEM Buffers', { kid: 'a', algorithm: 'ES256', privateKey: Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' })) }],
    ['JWK objects', { kid: 'a', algorithm: 'ES256', privateKey: privateKey.export({ format: 'jwk' }), publicKey: publicKey.export({ format: 'jwk' }) }],
    ['KeyObjects', { kid: 'a', algorithm: 'ES256', privateKey, publicKey }],
    ['a private KeyObject as publicKey', { kid: 'a', algorithm: 'ES256', privateKey, publicKey: privateKey }]
  ]
  for (const [name, key] of forms) {
    const app = await keysApp([key])
    const { accessToken } = await app.jwtAuth.issue({ id: 1 })
    t.equal((await app.inject({ url: '/me', headers: bearer(accessToken) })).statusCode, 200, name)
    await app.close()
  }
  const rsaPkcs1 = pairs.RS256.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string
  const verifyOnly = await keysApp([{ kid: 's', algorithm: 'RS256', privateKey: pairs.RS256.privateKey }, { kid: 'v', algorithm: 'RS256', publicKey: rsaPkcs1 }])
  t.equal(verifyOnly.jwtAuth.jwks().keys.length, 2, 'a PKCS#1 public key verifies too')
  await verifyOnly.close()
})

t.test('bad keys fail register with an error naming the key', async (t) => {
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['secret and keys', { secret: SECRET, keys: [{ kid: 'a', algorithm: 'ES256', privateKey: pairs.ES256.privateKey }] }, /either secret \(HMAC\) or keys \(asymmetric\), never both/],
    ['algorithm and keys', { algorithm: 'HS256', keys: [{ kid: 'a', algorithm: 'ES256', privateKey: pairs.ES256.privateKey }] }, /never both/],
    ['no keys', { keys: [] }, /keys must be a non-empty array/],
    ['keys not an array', { keys: 'pem' }, /keys must be a non-empty array/],
    ['a key not an object', { keys: [null] }, /keys\[0\] must be \{ kid, algorithm, privateKey, publicKey \}/],
    ['no kid', { keys: [{ algorithm: 'ES256', privateKey: pairs.ES256.privateKey }] }, /keys\[0\].kid must be/],
    ['a kid with a quote', { keys: [{ kid: 'a"b', algorithm: 'ES256', privateKey: pairs.ES256.privateKey }] }, /keys\[0\].kid/],
    ['an HMAC algorithm', { keys: [{ kid: 'a', algorithm: 'HS256', privateKey: pairs.ES256.privateKey }] }, /keys\[0\].algorithm must be one of RS256, PS256, ES256, ES384, EdDSA \(got HS256\)/],
    ['no key material', { keys: [{ kid: 'a', algorithm: 'ES256' }] }, /keys\[0\] needs a privateKey or a publicKey/],
    ['a 1024-bit RSA key', { keys: [{ kid: 'a', algorithm: 'RS256', privateKey: rsa1024.privateKey }] }, /keys\[0\] is a 1024-bit RSA key; RS256 needs at least 2048 bits/],
    ['an RSA exponent of 1 (anyone could forge)', { keys: [{ kid: 'a', algorithm: 'RS256', privateKey: pairs.RS256.privateKey }, { kid: 'b', algorithm: 'RS256', publicKey: { ...pairs.RS256.publicKey.export({ format: 'jwk' }), e: 'AQ' } }] }, /keys\[1\] is an RSA key with public exponent 1; RS256 needs an odd one from 65537 to 2\^32/],
    ['an even RSA exponent', { keys: [{ kid: 'a', algorithm: 'RS256', privateKey: pairs.RS256.privateKey }, { kid: 'b', algorithm: 'RS256', publicKey: { ...pairs.RS256.publicKey.export({ format: 'jwk' }), e: 'AQAC' } }] }, /public exponent 65538/],
    ['an RSA exponent over 2^32', { keys: [{ kid: 'a', algorithm: 'RS256', privateKey: pairs.RS256.privateKey }, { kid: 'b', algorithm: 'RS256', publicKey: { ...pairs.RS256.publicKey.export({ format: 'jwk' }), e: 'AQAAAAE' } }] }, /public exponent 4294967297/],
    ['an RSA-PSS-only key for PS256', { keys: [{ kid: 'a', algorithm: 'PS256', privateKey: generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey }] }, /keys\[0\] is a rsa-pss key, which PS256 cannot use/],
    ['a secret KeyObject', { keys: [{ kid: 'a', algorithm: 'ES256', publicKey: createSecretKey(Buffer.alloc(32)) }] }, /keys\[0\].publicKey must be a public key/],
    ['a P-256 key for ES384', { keys: [{ kid: 'a', algorithm: 'ES384', privateKey: pairs.ES256.privateKey }] }, /keys\[0\] is a ec key on prime256v1, which ES384 cannot use/],
    ['an Ed25519 key for ES256', { keys: [{ kid: 'a', algorithm: 'ES256', privateKey: pairs.EdDSA.privateKey }] }, /ES256 cannot use/],
    ['an RSA key for EdDSA', { keys: [{ kid: 'a', algorithm: 'EdDSA', privateKey: pairs.RS256.privateKey }] }, /EdDSA cannot use/],
    ['a mismatched pair', { keys: [{ kid: 'a', algorithm: 'ES256', privateKey: pairs.ES256.privateKey, publicKey: generate('ES256').publicKey }] }, /keys\[0\].publicKey does not match its privateKey/],
    ['a public key as privateKey', { keys: [{ kid: 'a', algorithm: 'ES256', privateKey: pairs.ES256.publicKey }] }, /keys\[0\].privateKey must be a private key/],
    ['garbage PEM', { keys: [{ kid: 'a', algorithm: 'ES256', privateKey: '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----' }] }, /keys\[0\].privateKey is not a valid private key/],
    ['a verify-only first key', { keys: [{ kid: 'a', algorithm: 'ES256', publicKey: pairs.ES256.publicKey }] }, /keys\[0\] signs the tokens: it needs a privateKey/],
    ['duplicate kids', { keys: [{ kid: 'a', algorithm: 'ES256', privateKey: pairs.ES256.privateKey }, { kid: 'a', algorithm: 'EdDSA', publicKey: pairs.EdDSA.publicKey }] }, /every kid must be unique/],
    ['routes.jwks with an HMAC secret', { secret: SECRET, routes: { jwks: true }, users: { findByLogin: async () => null } }, /routes.jwks needs asymmetric keys/],
    ['routes.jwks not a boolean', { keys: [{ kid: 'a', algorithm: 'ES256', privateKey: pairs.ES256.privateKey }], routes: { jwks: 'yes' }, users: { findByLogin: async () => null } }, /routes.jwks must be a boolean/]
  ]
  for (const [name, options, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(jwtAuth, options as unknown as JwtAuthOptions) }, { code: 'FST_JWT_AUTH_INVALID_OPTION', message }, name)
    await app.close()
  }
})

t.test('rotation: a new key first, the old one kept to verify until its tokens expire', async (t) => {
  const oldKey = { kid: '2026-10', algorithm: 'ES256' as const, privateKey: pairs.ES256.privateKey }
  const newKey = { kid: '2026-11', algorithm: 'EdDSA' as const, privateKey: pairs.EdDSA.privateKey }
  const before = await keysApp([oldKey])
  t.teardown(() => before.close())
  const oldToken = (await before.jwtAuth.issue({ id: 1 })).accessToken

  const during = await keysApp([newKey, { kid: oldKey.kid, algorithm: 'ES256', publicKey: pairs.ES256.publicKey }])
  t.teardown(() => during.close())
  t.equal((await during.inject({ url: '/me', headers: bearer(oldToken) })).statusCode, 200, 'tokens of the old key keep working')
  const newToken = (await during.jwtAuth.issue({ id: 1 })).accessToken
  t.equal(decodePart(newToken, 0).kid, '2026-11', 'new tokens use the new kid')
  t.same(during.jwtAuth.jwks().keys.map((key) => key.kid), ['2026-11', '2026-10'], 'both are published meanwhile')

  const after = await keysApp([newKey])
  t.teardown(() => after.close())
  const refused = await after.inject({ url: '/me', headers: bearer(oldToken) })
  t.equal(refused.statusCode, 401, 'once the old key is dropped, its tokens stop')
  t.equal(refused.headers['www-authenticate'], `Bearer realm="${ISSUER}", error="invalid_token", error_description="The token key is unknown"`)
  t.equal((await after.inject({ url: '/me', headers: bearer(newToken) })).statusCode, 200)
})

t.test('jwks(): the public keys only, with kid, alg and use', async (t) => {
  const app = await keysApp(ALGORITHMS.map((alg) => ({ kid: alg, algorithm: alg, privateKey: pairs[alg].privateKey })))
  t.teardown(() => app.close())
  const { keys } = app.jwtAuth.jwks()
  t.same(keys.map((key) => [key.kid, key.alg, key.use, key.kty]), [['RS256', 'RS256', 'sig', 'RSA'], ['PS256', 'PS256', 'sig', 'RSA'], ['ES256', 'ES256', 'sig', 'EC'], ['ES384', 'ES384', 'sig', 'EC'], ['EdDSA', 'EdDSA', 'sig', 'OKP']])
  for (const key of keys) {
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) t.notOk(secret in key, `${String(key.kid)} has no ${secret}`)
  }
  const hmac = Fastify()
  await hmac.register(jwtAuth, { secret: SECRET })
  t.same(hmac.jwtAuth.jwks(), { keys: [] }, 'an HMAC secret is never published')
  await hmac.close()
})

t.test('GET /.well-known/jwks.json, and a JWKS consumer (jose) verifying our tokens with it', async (t) => {
  const keys = ALGORITHMS.map((alg) => ({ kid: `k-${alg}`, algorithm: alg, privateKey: pairs[alg].privateKey }))
  const app = await keysApp([keys[0]!, ...keys.slice(1).map(({ kid, algorithm, privateKey }) => ({ kid, algorithm, publicKey: privateKey }))], { routes: { jwks: true, captcha: false }, users: { findByLogin: async () => null } })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const response = await fetch(`${base}/auth/.well-known/jwks.json`)
  t.equal(response.status, 200)
  t.equal(response.headers.get('cache-control'), 'public, max-age=300')
  t.equal((await response.json() as { keys: unknown[] }).keys.length, 5)

  const jwks = createRemoteJWKSet(new URL(`${base}/auth/.well-known/jwks.json`))
  const { accessToken } = await app.jwtAuth.issue({ id: 42, roles: ['admin'] })
  const { payload, protectedHeader } = await jwtVerify(accessToken, jwks, { issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt' })
  t.equal(payload.sub, '42')
  t.equal(protectedHeader.kid, 'k-RS256')

  // Every published key verifies tokens of its own algorithm, for a consumer.
  for (const alg of ALGORITHMS.slice(1)) {
    const signer = await keysApp([{ kid: `k-${alg}`, algorithm: alg, privateKey: pairs[alg].privateKey }])
    const token = (await signer.jwtAuth.issue({ id: 7 })).accessToken
    t.equal((await jwtVerify(token, jwks, { issuer: ISSUER, audience: AUDIENCE })).payload.sub, '7', `${alg} via the JWKS`)
    await signer.close()
  }
  await t.rejects(jwtVerify(`${accessToken.slice(0, -4)}AAAA`, jwks), 'a consumer refuses a forged signature too')
})

t.test('no JWKS route unless asked for', async (t) => {
  const app = await keysApp([{ kid: 'a', algorithm: 'ES256', privateKey: pairs.ES256.privateKey }], { routes: { captcha: false }, users: { findByLogin: async () => null } })
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/auth/.well-known/jwks.json' })).statusCode, 404)
})

t.test('control: the HMAC crafting helper still matches', async (t) => {
  t.ok(createHmac('sha256', SECRET).update('x').digest('base64url').length > 0)
})

t.test('the header cache (key choice by header segment) is bounded and only remembers known keys', async (t) => {
  const app = await keysApp([{ kid: 'k1', algorithm: 'ES256', privateKey: pairs.ES256.privateKey }])
  t.teardown(() => app.close())
  const me = async (token: string) => (await app.inject({ url: '/me', headers: bearer(token) })).statusCode
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  // 100 distinct headers naming our key, with a forged signature: all refused, and they fill the cache.
  for (let i = 0; i < 100; i++) t.equal(await me(`${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k1', n: i })}.${b64({ sub: '1' })}.${'A'.repeat(86)}`), 401)
  const token = (await app.jwtAuth.issue({ id: 1 })).accessToken
  t.equal(await me(token), 200, 'a real token still verifies with the cache full')
  const pretender = `${token.slice(0, token.indexOf('.'))}X` // a known header segment with no dot after it
  t.equal(await me(pretender), 401, 'a string that only starts like a known header is still refused')
  t.equal(await me(`${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'nope' })}.${b64({ sub: '1' })}.x`), 401, 'an unknown kid is never remembered')
})
