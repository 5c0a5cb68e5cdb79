// The key set of a trusted issuer under pressure: closing a listening app mid-fetch, known keys never held up by a
// fetch, failures that keep the set working, redirects, timer bounds, and keys too weak or of the wrong kind.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import t from 'tap'
import jwtAuth, { type JwtAuthOptions } from '../lib/index.js'
import { SECRET, USERS } from './helpers/app.js'
import { fakeClock } from './helpers/clock.js'
import { eventually } from './helpers/eventually.js'
import { API, appFor, IDP, issuerKey, jwksServer, mint, who, type IssuerKey } from './helpers/issuer.js'

const options = (jwksUri: string, issuer: Record<string, unknown> = {}): JwtAuthOptions => ({
  secret: SECRET,
  users: { findById: async (id: string) => USERS.find((user) => String(user.id) === id) ?? null },
  trustedIssuers: [{ issuer: IDP, jwksUri, audience: API, algorithms: ['RS256', 'ES256'], ...issuer }]
} as JwtAuthOptions)

t.test('closing a listening app answers the requests waiting on a JWKS fetch at once (503), not after the timeout', async (t) => {
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  jwks.state.mode = 'hang'
  const app = Fastify()
  await app.register(jwtAuth, options(jwks.url, { timeout: '1m' }))
  app.get('/who', { onRequest: app.authenticate }, async () => 'ok')
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const pending = fetch(`${address}/who`, { headers: { authorization: `Bearer ${await mint({ key })}` } })
  t.ok(await eventually(() => jwks.state.fetches === 1, 2000), 'the fetch is in flight')
  const started = performance.now()
  await app.close()
  const response = await pending
  t.equal(response.status, 503)
  t.equal((await response.json()).code, 'FST_JWT_AUTH_ISSUER_UNAVAILABLE')
  t.ok(performance.now() - started < 1000, `closed in ${Math.round(performance.now() - started)} ms`)
})

t.test('a stale set answers its known keys at once while it is fetched again, however long that takes', async (t) => {
  const clock = fakeClock(t)
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const app = await appFor(t, jwks.url, { cacheTtl: '1m', timeout: '1m' })
  t.equal((await who(app, await mint({ key }))).statusCode, 200)
  jwks.state.mode = 'hang'
  clock.now += 60_001
  for (let i = 0; i < 5; i++) {
    const started = performance.now()
    t.equal((await who(app, await mint({ key, claims: { jti: String(i) } }))).statusCode, 200)
    t.ok(performance.now() - started < 500, 'not held by the fetch')
  }
  t.equal(jwks.state.fetches, 2, 'one fetch in flight, shared')
})

t.test('a failed fetch for an unknown kid keeps the set working until the cooldown: one fetch per cooldown', async (t) => {
  const clock = fakeClock(t)
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const app = await appFor(t, jwks.url, { cacheTtl: '1m', cooldown: '10s' })
  t.equal((await who(app, await mint({ key }))).statusCode, 200)
  jwks.state.mode = 'error'
  clock.now += 60_001
  for (let round = 0; round < 5; round++) {
    t.equal((await who(app, await mint({ key: await issuerKey() }))).statusCode, 503, 'an unknown kid: the fetch fails')
    t.equal((await who(app, await mint({ key, claims: { jti: String(round) } }))).statusCode, 200, 'the known key goes on')
    t.equal(jwks.state.fetches, 2 + round, 'without a second fetch in this cooldown')
    clock.now += 10_001
  }
})

t.test('a fetch caused by another token that brings a set without a key ends the cached tokens of that key', async (t) => {
  const key = await issuerKey()
  const other = await issuerKey()
  const jwks = await jwksServer(t, [key, other])
  const app = await appFor(t, jwks.url)
  const cached = await mint({ key, long: true })
  t.equal((await who(app, cached)).statusCode, 200)
  t.equal((await who(app, cached)).statusCode, 200, 'from the verify cache')
  jwks.state.keys = [other.jwk]
  t.equal((await who(app, await mint({ key: await issuerKey() }))).statusCode, 401, 'a made-up kid: the set is fetched')
  t.equal(jwks.state.fetches, 2)
  t.equal((await who(app, cached)).statusCode, 401, 'the cached token of the removed key is verified again: refused')
  t.equal((await who(app, await mint({ key: other }))).statusCode, 200)
})

t.test('maxStale: known keys answer past cacheTtl while the issuer is unreachable, for that long, then 503', async (t) => {
  const clock = fakeClock(t)
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const app = await appFor(t, jwks.url, { cacheTtl: '1m', maxStale: '5m', cooldown: '10s' })
  const token = await mint({ key, long: true })
  t.equal((await who(app, token)).statusCode, 200)
  jwks.state.mode = 'error'
  clock.now += 60_001
  t.equal((await who(app, token)).statusCode, 200, 'stale, the fetch fails: the known key answers')
  clock.now += 4 * 60_000
  t.equal((await who(app, await mint({ key, claims: { jti: 'a' } }))).statusCode, 200, 'within maxStale')
  clock.now += 60_000
  const response = await who(app, token)
  t.equal(response.statusCode, 503, 'past cacheTtl + maxStale, the cached token too')
  t.equal(response.json().code, 'FST_JWT_AUTH_ISSUER_UNAVAILABLE')
  const fetches = jwks.state.fetches
  t.equal((await who(app, token)).statusCode, 503, 'again within the cooldown')
  t.equal(jwks.state.fetches, fetches, 'without a fetch')
  jwks.state.mode = 'ok'
  clock.now += 10_001
  t.equal((await who(app, token)).statusCode, 200, 'the issuer back: answered again')

  const strict = await appFor(t, jwks.url, { cacheTtl: '1m', maxStale: 0, cooldown: '10s' })
  t.equal((await who(strict, token)).statusCode, 200)
  jwks.state.mode = 'error'
  clock.now += 60_001
  t.equal((await who(strict, token)).statusCode, 503, 'maxStale 0: a stale set waits for its fetch')
})

t.test('a set past maxStale is fetched again for a known key, even within the cooldown of a made-up kid', async (t) => {
  const clock = fakeClock(t)
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const app = await appFor(t, jwks.url, { cacheTtl: '1s', maxStale: 0, cooldown: '30s' })
  t.equal((await who(app, await mint({ key }))).statusCode, 200)
  t.equal((await who(app, await mint({ key: await issuerKey() }))).statusCode, 401, 'a made-up kid: a fetch, then its cooldown')
  t.equal(jwks.state.fetches, 2)
  clock.now += 1500
  t.equal((await who(app, await mint({ key, claims: { jti: 'later' } }))).statusCode, 200, 'the known key: the set is fetched')
  t.equal(jwks.state.fetches, 3)
})

t.test('failed fetches are logged at warn with the JWKS URL; no token in the logs', async (t) => {
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  jwks.state.mode = 'error'
  const lines: string[] = []
  const stream = new Writable({ write (chunk, encoding, done) { lines.push(String(chunk)); done() } })
  const app = Fastify({ logger: { level: 'info', stream } })
  await app.register(jwtAuth, options(jwks.url))
  app.get('/who', { onRequest: app.authenticate }, async () => 'ok')
  t.teardown(() => app.close())
  const token = await mint({ key })
  t.equal((await app.inject({ url: '/who', headers: { authorization: `Bearer ${token}` } })).statusCode, 503)
  const warning = lines.map((line) => JSON.parse(line)).find((entry) => entry.msg?.includes('JWKS could not be fetched'))
  t.equal(warning?.level, 40)
  t.equal(warning?.jwksUri, jwks.url)
  t.match(warning?.err?.message, /answered 500/)
  t.notOk(lines.some((line) => line.includes(token) || line.includes(token.split('.')[2]!)), 'no token, no signature')
})

t.test('a JWKS endpoint that redirects is not followed (503): it could lead off https', async (t) => {
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  jwks.state.mode = 'redirect'
  const app = await appFor(t, jwks.url)
  const response = await who(app, await mint({ key }))
  t.equal(response.statusCode, 503)
  t.equal(jwks.state.redirected, 0, 'the target was never asked')
})

t.test('timers: whole milliseconds, a timeout of at most a minute, a cooldown and cacheTtl of at least a second', async (t) => {
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const app = await appFor(t, jwks.url, { timeout: '2800ms', cooldown: '1s', cacheTtl: '1s' })
  t.equal((await who(app, await mint({ key }))).statusCode, 200, 'a timeout of 2.8 s (not a whole number once in seconds)')
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ timeout: '25d' }, /trustedIssuers\[0\]\.timeout must be at most 60s \(got 25d\)/],
    [{ timeout: '61s' }, /timeout must be at most 60s/],
    [{ timeout: '0.1ms' }, /trustedIssuers\[0\]\.timeout must be at least 1ms \(got 0\.1ms\)/],
    [{ cooldown: '1ms' }, /trustedIssuers\[0\]\.cooldown must be at least 1s \(got 1ms\)/],
    [{ cacheTtl: '500ms' }, /trustedIssuers\[0\]\.cacheTtl must be at least 1s/],
    [{ maxStale: 'later' }, /trustedIssuers\[0\]\.maxStale must be 0 or a duration/]
  ]
  for (const [issuer, message] of cases) {
    const refused = Fastify()
    await t.rejects(async () => { await refused.register(jwtAuth, options(jwks.url, issuer)) }, { code: 'FST_JWT_AUTH_INVALID_OPTION', message }, String(message))
    await refused.close()
  }
})

/** An RSA issuer key from node:crypto, for the sizes jose will not generate. */
function rsaKey (kid: string, modulusLength: number): IssuerKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength })
  return { kid, alg: 'RS256', privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } }
}

/** A token of the issuer signed by node:crypto (jose refuses RSA keys under 2048 bits). */
function signedWith (key: IssuerKey): string {
  const now = Math.floor(Date.now() / 1000)
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const input = `${part({ alg: 'RS256', kid: key.kid, typ: 'at+jwt' })}.${part({ sub: '1', iss: IDP, aud: API, iat: now, exp: now + 600 })}`
  return `${input}.${sign('sha256', Buffer.from(input), key.privateKey as KeyObject).toString('base64url')}`
}

/**
 * A token "signed" for a key whose public exponent is 1, with no private key at all: s^1 mod n = s, so the
 * signature is just the PKCS#1 v1.5 encoding of the token's SHA-256 (RFC 8017 section 9.2).
 */
function forgedForExponentOne (kid: string): string {
  const now = Math.floor(Date.now() / 1000)
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const input = `${part({ alg: 'RS256', kid, typ: 'at+jwt' })}.${part({ sub: '1', iss: IDP, aud: API, iat: now, exp: now + 600 })}`
  const digestInfo = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), createHash('sha256').update(input).digest()])
  const encoded = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - 3 - digestInfo.length, 0xff), Buffer.from([0]), digestInfo])
  return `${input}.${encoded.toString('base64url')}`
}

t.test('a published RSA key with exponent 1 would let anyone sign: it is never used', async (t) => {
  const key = rsaKey('e1', 2048)
  const jwks = await jwksServer(t, [])
  jwks.state.keys = [{ ...key.jwk, e: 'AQ' }]
  const app = await appFor(t, jwks.url)
  const response = await who(app, forgedForExponentOne('e1'))
  t.equal(response.statusCode, 401)
  t.match(response.json().message, /cannot verify/)
})

t.test('keys too weak or of the wrong kind are never used; of several keys under one kid, the one that fits', async (t) => {
  const weak = rsaKey('weak', 1024)
  // No generator makes an exponent over 2^32: a published key can have one (2^32 + 1 here), and every
  // verification with it, of forged signatures too, would be slow.
  const slow = rsaKey('slow', 2048)
  slow.jwk.e = Buffer.from([1, 0, 0, 0, 1]).toString('base64url')
  const good = await issuerKey('RS256', 'shared')
  const ec = await issuerKey('ES256')
  const encryption = rsaKey('shared', 2048)
  const jwks = await jwksServer(t, [])
  jwks.state.keys = [
    weak.jwk, slow.jwk,
    // Listed first under the kid the real key uses: an encryption key, and an EC key without alg.
    { ...encryption.jwk, use: 'enc', alg: undefined }, { ...ec.jwk, kid: 'shared', alg: undefined }, good.jwk
  ]
  const app = await appFor(t, jwks.url)
  for (const [name, key] of [['a 1024-bit RSA key', weak], ['an RSA exponent over 2^32', slow]] as const) {
    const response = await who(app, signedWith(key))
    t.equal(response.statusCode, 401, name)
    t.match(response.json().message, /cannot verify/, name)
  }
  t.equal((await who(app, await mint({ key: good }))).statusCode, 200, 'the signing key that fits, after the others')
  t.equal(jwks.state.fetches, 1)
})
