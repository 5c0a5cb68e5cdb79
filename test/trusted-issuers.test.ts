// Resource-server mode: access tokens of trusted issuers, verified against a JWKS served on loopback by the test,
// minted with jose. Key rotation at the issuer, bounded fetches, an unreachable issuer (503, never 200).
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import t from 'tap'
import jwtAuth, { type JwtAuthOptions } from '../lib/index.js'
import { bearer, craftToken, SECRET, USERS } from './helpers/app.js'
import { fakeClock } from './helpers/clock.js'
import { eventually } from './helpers/eventually.js'
import { API, appFor, IDP, issuerKey, jwksServer, mint, UNAUTHORIZED, who, type Mode } from './helpers/issuer.js'

t.test('a trusted issuer\'s access token authenticates: request.auth.issuer, the user from findById', async (t) => {
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const app = await appFor(t, jwks.url)
  const token = await mint({ key })
  const response = await who(app, token)
  t.equal(response.statusCode, 200)
  t.same(response.json().user, USERS[0], 'findById(sub)')
  t.equal(response.json().issuer, IDP)
  t.equal(response.json().claims.scope, 'orders:read')
  t.equal((await app.inject({ url: '/read', headers: bearer(token) })).statusCode, 200, 'authorize reads its scopes')

  const fresh = await mint({ key, claims: { jti: 'mutated' } })
  for (let i = 0; i < 2; i++) await app.inject({ url: '/mutate', headers: bearer(fresh) })
  t.equal((await who(app, fresh)).json().claims.scope, 'orders:read', 'a route changing its claims changes no other request\'s')

  t.equal(jwks.state.fetches, 1)
  for (let i = 0; i < 3; i++) t.equal((await who(app, await mint({ key, claims: { jti: String(i) } }))).statusCode, 200)
  t.equal(jwks.state.fetches, 1, 'the key is fetched once, not per token')

  const own = await app.jwtAuth.issue({ id: 2 })
  const ownResponse = await who(app, own.accessToken)
  t.equal(ownResponse.statusCode, 200, 'the plugin\'s own tokens work beside them')
  t.equal(ownResponse.json().issuer, null, 'request.auth.issuer is undefined for them')
  t.equal(jwks.state.fetches, 1, 'and never make a fetch')
})

t.test('mapUser loads the user; without findById the claims are the user', async (t) => {
  const key = await issuerKey('ES256')
  const jwks = await jwksServer(t, [key])
  const seen: unknown[] = []
  const mapped = await appFor(t, jwks.url, {
    mapUser: async (claims: { sub: string }) => { seen.push(claims.sub); return claims.sub === 'gone' ? null : { id: 42, name: claims.sub } }
  })
  t.same((await who(mapped, await mint({ key, claims: { sub: 'auth0|abc' } }))).json().user, { id: 42, name: 'auth0|abc' })
  t.same(seen, ['auth0|abc'])
  const gone = await who(mapped, await mint({ key, claims: { sub: 'gone' } }))
  t.equal(gone.statusCode, 401)
  t.equal(gone.json().code, 'FST_JWT_AUTH_USER_NOT_FOUND')

  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, trustedIssuers: [{ issuer: IDP, jwksUri: jwks.url, audience: [API, 'other'], algorithms: ['ES256'] }] })
  app.get('/who', { onRequest: app.authenticate }, async (request) => request.user)
  t.teardown(() => app.close())
  const token = await mint({ key, claims: { sub: 'svc-7' } })
  t.match((await app.inject({ url: '/who', headers: bearer(token) })).json(), { sub: 'svc-7', iss: IDP, aud: API })
})

t.test('key rotation at the issuer: a new kid is fetched once; a removed key stops after cacheTtl', async (t) => {
  const clock = fakeClock(t)
  const first = await issuerKey()
  const jwks = await jwksServer(t, [first])
  const app = await appFor(t, jwks.url, { cacheTtl: '10m' })
  t.equal((await who(app, await mint({ key: first }))).statusCode, 200)

  const second = await issuerKey('ES256')
  jwks.state.keys = [first.jwk, second.jwk]
  t.equal((await who(app, await mint({ key: second }))).statusCode, 200, 'the new key is fetched at its first token')
  t.equal(jwks.state.fetches, 2)

  jwks.state.keys = [second.jwk]
  const cached = await mint({ key: first, claims: { jti: 'a' }, long: true })
  t.equal((await who(app, cached)).statusCode, 200, 'the old key works until cacheTtl')
  clock.now += 10 * 60_000 + 1
  const stale = await who(app, await mint({ key: first, claims: { jti: 'b' } }))
  t.equal(stale.statusCode, 200, 'the first token after cacheTtl is answered by the set it has while it is fetched again')
  t.ok(await eventually(() => jwks.state.fetches === 3, 1000))
  await new Promise((resolve) => setImmediate(resolve))
  const removed = await who(app, await mint({ key: first, claims: { jti: 'c' } }))
  t.equal(removed.statusCode, 401, 'then the key is gone')
  t.match(removed.headers['www-authenticate'], /error="invalid_token", error_description="The token key is not in the issuer's key set"/)
  t.equal((await who(app, cached)).statusCode, 401, 'a token verified before, valid for years, leaves the verify cache with its key')
  t.equal((await who(app, await mint({ key: second }))).statusCode, 200, 'the new key came with that fetch')
  t.equal(jwks.state.fetches, 4, 'one fetch a cacheTtl for the whole set, and one for the removed kid, unknown now')
})

t.test('a flood of made-up kids makes at most one fetch per cooldown', async (t) => {
  const clock = fakeClock(t)
  const key = await issuerKey()
  const later = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const app = await appFor(t, jwks.url, { cooldown: '30s' })
  const attacker = await issuerKey()
  const flood = await Promise.all(Array.from({ length: 50 }, async () => await mint({ key: { ...attacker, kid: randomUUID() } })))
  const answers = await Promise.all(flood.map(async (token) => (await who(app, token)).statusCode))
  t.same(new Set(answers), new Set([401]))
  t.equal(jwks.state.fetches, 1, '50 concurrent unknown kids: one fetch')

  t.equal((await who(app, await mint({ key }))).statusCode, 200, 'that fetch brought the whole set: a real kid is known')
  jwks.state.keys = [key.jwk, later.jwk]
  t.equal((await who(app, await mint({ key: later }))).statusCode, 401, 'within the cooldown a key published since waits (no fetch)')
  t.equal(jwks.state.fetches, 1)
  clock.now += 30_001
  t.equal((await who(app, await mint({ key: later }))).statusCode, 200, 'after it, the next unknown kid is fetched')
  t.equal((await who(app, flood[0]!)).statusCode, 401)
  t.equal(jwks.state.fetches, 3, 'and the cooldown starts again')
  for (const token of flood.slice(1, 10)) await who(app, token)
  t.equal(jwks.state.fetches, 3)
  t.equal((await who(app, await mint({ key, claims: { jti: 'x' } }))).statusCode, 200, 'known keys are not held by the cooldown')
})

t.test('under a flood of made-up kids, a key the issuer rotates to is accepted one cooldown later at the latest', async (t) => {
  const clock = fakeClock(t)
  const key = await issuerKey()
  const next = await issuerKey('ES256')
  const jwks = await jwksServer(t, [key])
  const app = await appFor(t, jwks.url, { cooldown: '2s' })
  t.equal((await who(app, await mint({ key }))).statusCode, 200)
  const attacker = await issuerKey()
  const madeUp = async (): Promise<number> => (await who(app, await mint({ key: { ...attacker, kid: randomUUID() } }))).statusCode

  // The attacker's token always comes first after a cooldown, so every fetch is one of theirs.
  t.equal(await madeUp(), 401)
  jwks.state.keys = [key.jwk, next.jwk]
  const rotatedAt = clock.now
  let acceptedAt: number | undefined
  for (let step = 0; step < 40 && acceptedAt === undefined; step++) {
    clock.now += 250
    for (let i = 0; i < 5; i++) t.equal(await madeUp(), 401)
    if ((await who(app, await mint({ key: next, claims: { jti: String(step) } }))).statusCode === 200) acceptedAt = clock.now
  }
  t.ok(acceptedAt !== undefined && acceptedAt - rotatedAt <= 2000 + 250, `the new key accepted ${acceptedAt! - rotatedAt} ms after the rotation`)
  t.equal(jwks.state.fetches, 3, 'the first token, the attacker\'s first unknown kid, and theirs after the cooldown')
  t.equal((await who(app, await mint({ key }))).statusCode, 200, 'the old key too, all along')
})

t.test('an empty key set: every kid is unknown (401); a set whose entries are not keys is read for the ones that are', async (t) => {
  const key = await issuerKey()
  const jwks = await jwksServer(t, [])
  const app = await appFor(t, jwks.url, { cooldown: '30s' })
  const response = await who(app, await mint({ key }))
  t.equal(response.statusCode, 401)
  t.match(response.json().message, /not in the issuer's key set/)

  const other = await jwksServer(t, [])
  other.state.keys = [null, 'x', 7, key.jwk]
  const app2 = await appFor(t, other.url)
  t.equal((await who(app2, await mint({ key }))).statusCode, 200)
})

t.test('an unreachable issuer: 503 FST_JWT_AUTH_ISSUER_UNAVAILABLE, never a 200, never a hang', async (t) => {
  for (const mode of ['error', 'garbage', 'hang', 'closed'] as const) {
    t.test(mode, async (t) => {
      const clock = fakeClock(t)
      const key = await issuerKey()
      const jwks = await jwksServer(t, [key])
      if (mode === 'closed') await jwks.close()
      else jwks.state.mode = mode
      const app = await appFor(t, jwks.url, { timeout: '300ms', cooldown: '10s' })
      // The fake clock stops Date.now: real time from performance.now.
      const started = performance.now()
      const response = await who(app, await mint({ key }))
      t.equal(response.statusCode, 503)
      t.equal(response.json().code, 'FST_JWT_AUTH_ISSUER_UNAVAILABLE')
      t.notOk(response.headers['www-authenticate'], 'no challenge: the token may be fine')
      t.ok(performance.now() - started < 2000, 'within the timeout')
      const fetches = jwks.state.fetches
      t.equal((await who(app, await mint({ key, claims: { jti: 'again' } }))).statusCode, 503, 'within the cooldown: 503 at once')
      t.equal(jwks.state.fetches, fetches, 'without a fetch')
      if (mode === 'closed') return
      jwks.state.mode = 'ok'
      clock.now += 10_001
      t.equal((await who(app, await mint({ key }))).statusCode, 200, 'back after the cooldown')
    })
  }
})

t.test('a known key keeps working while its issuer is unreachable, and is asked for again after the cooldown', async (t) => {
  const clock = fakeClock(t)
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const app = await appFor(t, jwks.url, { cacheTtl: '1m', cooldown: '10s', timeout: '200ms' })
  t.equal((await who(app, await mint({ key }))).statusCode, 200)
  jwks.state.mode = 'hang'
  clock.now += 60_001
  t.equal((await who(app, await mint({ key, claims: { jti: '1' } }))).statusCode, 200, 'stale: the key answers while the set is fetched')
  t.equal((await who(app, await mint({ key: await issuerKey() }))).statusCode, 503, 'an unknown kid waits for that fetch: 503')
  t.equal(jwks.state.fetches, 2)
  t.equal((await who(app, await mint({ key, claims: { jti: '2' } }))).statusCode, 200, 'the fetch timed out: the key still verifies')
  t.equal(jwks.state.fetches, 2, 'no new fetch within the cooldown')
  jwks.state.mode = 'ok'
  clock.now += 10_001
  t.equal((await who(app, await mint({ key, claims: { jti: '3' } }))).statusCode, 200)
  t.ok(await eventually(() => jwks.state.fetches === 3, 1000), 'asked again after the cooldown')
})

t.test('closing the app ends a JWKS fetch in flight', async (t) => {
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  jwks.state.mode = 'hang'
  const app = await appFor(t, jwks.url, { timeout: '1m' })
  const pending = who(app, await mint({ key }))
  while (jwks.state.fetches === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  const started = Date.now()
  await app.close()
  t.equal((await pending).statusCode, 503)
  t.ok(Date.now() - started < 1000, 'at once, not after the timeout')
})

t.test('RFC 8725 / RFC 9068 checks: algorithms, header, iss, aud, exp, nbf, iat, sub, typ', async (t) => {
  const rsa = await issuerKey()
  const ps = await issuerKey('PS256')
  const jwks = await jwksServer(t, [rsa, ps])
  const app = await appFor(t, jwks.url, { typ: 'at+jwt' })
  const now = Math.floor(Date.now() / 1000)
  const cases: Array<[string, Promise<string> | string, string]> = [
    ['wrong audience', mint({ key: rsa, claims: { aud: 'api://other' } }), 'FST_JWT_AUTH_INVALID_TOKEN'],
    ['expired', mint({ key: rsa, claims: { iat: now - 700, exp: now - 100 } }), 'FST_JWT_AUTH_TOKEN_EXPIRED'],
    ['not yet valid', mint({ key: rsa, claims: { nbf: now + 300 } }), 'FST_JWT_AUTH_TOKEN_NOT_ACTIVE'],
    ['issued in the future', mint({ key: rsa, claims: { iat: now + 300 } }), 'FST_JWT_AUTH_INVALID_TOKEN'],
    ['no sub', mint({ key: rsa, claims: { sub: undefined } }), 'FST_JWT_AUTH_INVALID_TOKEN'],
    ['empty sub', mint({ key: rsa, claims: { sub: '' } }), 'FST_JWT_AUTH_INVALID_TOKEN'],
    ['no exp', mint({ key: rsa, claims: { exp: undefined } }), 'FST_JWT_AUTH_INVALID_TOKEN'],
    ['iat not a number', mint({ key: rsa, claims: { iat: 'yesterday' } }), 'FST_JWT_AUTH_INVALID_TOKEN'],
    ['typ JWT where at+jwt is required', mint({ key: rsa, header: { typ: 'JWT' } }), 'FST_JWT_AUTH_WRONG_TOKEN_TYPE'],
    ['PS256, not allowlisted', mint({ key: ps }), 'FST_JWT_AUTH_INVALID_TOKEN'],
    ['a jku header', mint({ key: rsa, header: { jku: `${jwks.url}?evil` } }), 'FST_JWT_AUTH_INVALID_TOKEN'],
    ['no kid', mint({ key: { ...rsa, kid: undefined as unknown as string } }), 'FST_JWT_AUTH_INVALID_TOKEN'],
    ['a kid with a space', mint({ key: { ...rsa, kid: 'a b' } }), 'FST_JWT_AUTH_INVALID_TOKEN'],
    ['tampered payload', mint({ key: rsa }).then((token) => {
      const [head, , sig] = token.split('.')
      return `${head}.${Buffer.from(JSON.stringify({ sub: '1', iss: IDP, aud: API, iat: now, exp: now + 600, admin: true })).toString('base64url')}.${sig}`
    }), 'FST_JWT_AUTH_INVALID_TOKEN'],
    ['alg none', craftToken({ alg: 'none', kid: rsa.kid }, { sub: '1', iss: IDP, aud: API, iat: now, exp: now + 600 }, { signature: '' }), 'FST_JWT_AUTH_INVALID_TOKEN'],
    // The public key as an HMAC secret: HS256 is no trusted issuer's algorithm, so the token is not even routed there.
    ['HS256 with the public key', craftToken({ alg: 'HS256', kid: rsa.kid, typ: 'at+jwt' }, { sub: '1', iss: IDP, aud: API, iat: now, exp: now + 600 }, { secret: JSON.stringify(rsa.jwk) }), 'FST_JWT_AUTH_INVALID_TOKEN']
  ]
  for (const [name, token, code] of cases) {
    const response = await who(app, await token)
    t.equal(response.statusCode, 401, name)
    t.equal(response.json().code, code, name)
    t.match(response.headers['www-authenticate'], /error="invalid_token"/, name)
  }
  t.equal(jwks.state.fetches, 1, 'only the first valid-looking token fetched; refused algorithms, headers and kids never do')
  t.equal((await who(app, await mint({ key: rsa, header: { typ: 'application/at+jwt' } }))).statusCode, 200, 'application/at+jwt is at+jwt')
})

t.test('keys the issuer publishes that cannot verify the token are refused', async (t) => {
  const rsa = await issuerKey()
  const ec = await issuerKey('ES256')
  const encryption = await issuerKey()
  const jwks = await jwksServer(t, [])
  jwks.state.keys = [{ ...ec.jwk, alg: undefined, kid: 'ec-no-alg' }, { ...encryption.jwk, use: 'enc' }, { kty: 'oct', k: 'c2VjcmV0', kid: 'oct' }]
  const app = await appFor(t, jwks.url)
  for (const [name, kid] of [['an EC key for RS256', 'ec-no-alg'], ['an encryption key', encryption.kid], ['a symmetric key', 'oct']] as const) {
    const response = await who(app, await mint({ key: { ...rsa, kid } }))
    t.equal(response.statusCode, 401, name)
    t.match(response.json().message, /cannot verify/, name)
  }
  const fetches = jwks.state.fetches
  t.equal((await who(app, await mint({ key: { ...rsa, kid: 'oct' } }))).statusCode, 401)
  t.equal(jwks.state.fetches, fetches, 'remembered: not fetched again')
})

t.test('two issuers: each token is checked against its own issuer\'s keys', async (t) => {
  const a = await issuerKey()
  const b = await issuerKey()
  const jwksA = await jwksServer(t, [a])
  const jwksB = await jwksServer(t, [b])
  const app = await appFor(t, jwksA.url, {}, {
    trustedIssuers: [
      { issuer: IDP, jwksUri: jwksA.url, audience: API, algorithms: ['RS256'] },
      { issuer: 'https://login.other.example/v2.0', jwksUri: jwksB.url, audience: API, algorithms: ['RS256'] }
    ]
  })
  t.equal((await who(app, await mint({ key: a }))).json().issuer, IDP)
  const fromB = await who(app, await mint({ key: b, claims: { iss: 'https://login.other.example/v2.0' } }))
  t.equal(fromB.json().issuer, 'https://login.other.example/v2.0')
  t.equal((await who(app, await mint({ key: b }))).statusCode, 401, 'B\'s key under A\'s name: unknown to A')
  t.equal((await who(app, await mint({ key: a, claims: { iss: 'https://unknown.example' } }))).statusCode, 401, 'an issuer not configured')
})

t.test('revocation by user: revokeAll(sub), or of the mapped user\'s id, ends the tokens issued before it', async (t) => {
  const clock = fakeClock(t, Math.floor(Date.now() / 1000) * 1000 + 500)
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const app = await appFor(t, jwks.url)
  const before = await mint({ key })
  t.equal((await who(app, before)).statusCode, 200)
  await app.jwtAuth.revokeAll('1')
  const revoked = await who(app, before)
  t.equal(revoked.statusCode, 401, 'a cached token too')
  t.equal(revoked.json().code, 'FST_JWT_AUTH_TOKEN_REVOKED')
  t.equal((await who(app, await mint({ key, claims: { jti: 'same-second' } }))).statusCode, 401, 'issued in the same second: ends too')
  clock.now += 1000
  t.equal((await who(app, await mint({ key }))).statusCode, 200, 'issued afterwards: works')

  const mapped = await appFor(t, jwks.url, { mapUser: (claims: { sub: string }) => ({ id: `user-of-${claims.sub}` }) })
  const token = await mint({ key, claims: { sub: 'ext-9' } })
  t.equal((await who(mapped, token)).statusCode, 200)
  await mapped.jwtAuth.revokeAll('user-of-ext-9')
  t.equal((await who(mapped, token)).statusCode, 401, 'revokeAll of the id mapUser returned')
})

t.test('revocation by user on a store without a local copy (a key-value store)', async (t) => {
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const { keyValueStore } = await import('./helpers/kv-store.js')
  const store = keyValueStore()
  const app = await appFor(t, jwks.url, {}, { store })
  const token = await mint({ key, claims: { iat: Math.floor(Date.now() / 1000) - 5 } })
  t.equal((await who(app, token)).statusCode, 200)
  await app.jwtAuth.revokeAll(1)
  t.equal((await who(app, token)).statusCode, 401)
})

t.test('refresh() and revoke() never accept a token of another issuer; the plugin\'s routes want its own', async (t) => {
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const app = await appFor(t, jwks.url, {}, { routes: { prefix: '/auth' }, users: { findById: async (id: string) => USERS.find((user) => String(user.id) === id) ?? null, findByLogin: async () => null } })
  const token = await mint({ key })
  await t.rejects(app.jwtAuth.refresh(token), UNAUTHORIZED)
  await t.rejects(app.jwtAuth.revoke(token), UNAUTHORIZED)
  await t.rejects(app.jwtAuth.verify(token), UNAUTHORIZED, 'verify() checks the plugin\'s own tokens')
  for (const [method, url] of [['GET', '/auth/me'], ['POST', '/auth/logout']] as const) {
    const response = await app.inject({ method, url, headers: bearer(token) })
    t.equal(response.statusCode, 401, url)
    t.match(response.headers['www-authenticate'], /This route needs a token issued by this service/)
  }
  const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } })
  t.equal(refreshed.statusCode, 401)
  const own = await app.jwtAuth.issue({ id: 1 })
  t.equal((await app.inject({ url: '/auth/me', headers: bearer(own.accessToken) })).statusCode, 200)
  t.equal((await who(app, token)).statusCode, 200, 'while app routes take it')
})

t.test('with asymmetric keys of its own on the same algorithm, own tokens are told apart by their kid', async (t) => {
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const app = Fastify()
  await app.register(jwtAuth, {
    keys: [{ kid: 'own-1', algorithm: 'RS256', privateKey }],
    verifyCacheMax: 0,
    trustedIssuers: [{ issuer: IDP, jwksUri: jwks.url, audience: API, algorithms: ['RS256'] }]
  })
  app.get('/who', { onRequest: app.authenticate }, async (request) => ({ issuer: request.auth!.issuer ?? null }))
  t.teardown(() => app.close())
  const own = await app.jwtAuth.issue({ id: 1 })
  for (let i = 0; i < 2; i++) t.same((await who(app, own.accessToken)).json(), { issuer: null })
  for (let i = 0; i < 2; i++) t.same((await who(app, await mint({ key }))).json(), { issuer: IDP }, 'verify cache off: verified each time')
  t.equal(jwks.state.fetches, 1)
  t.equal((await who(app, await mint({ key: { ...key, kid: 'own-1' } }))).statusCode, 401, 'our kid: judged as our own token')
  t.equal((await who(app, 'e30.e30.sig')).statusCode, 401, 'a header with no algorithm goes the own way')
})

t.test('concurrent tokens of one new key: one fetch; a set of 100 keys is read whole', async (t) => {
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const app = await appFor(t, jwks.url)
  const tokens = await Promise.all(Array.from({ length: 5 }, async (_, i) => await mint({ key, claims: { jti: String(i) } })))
  t.same(await Promise.all(tokens.map(async (token) => (await who(app, token)).statusCode)), [200, 200, 200, 200, 200])
  t.equal(jwks.state.fetches, 1, 'the waiting ones found the key the first fetch brought')

  // The same key published under 100 kids (a JWKS of many keys): one fetch learns them all.
  const kids = Array.from({ length: 100 }, (_, i) => `kid-${i}`)
  jwks.state.keys = kids.map((kid) => ({ ...key.jwk, kid }))
  for (const kid of kids) t.equal((await who(app, await mint({ key: { ...key, kid } }))).statusCode, 200, kid)
  t.equal(jwks.state.fetches, 2)
})

t.test('a JWKS endpoint that answers too much, or no key set, is an unreachable issuer (503)', async (t) => {
  const key = await issuerKey()
  const bodies: Array<[string, Mode, string?]> = [
    ['101 keys', 'ok', JSON.stringify({ keys: Array.from({ length: 101 }, (_, i) => ({ ...key.jwk, kid: `kid-${i}` })) })],
    ['over 1 MiB, announced', 'huge'],
    ['over 1 MiB, chunked', 'huge-chunked'],
    ['keys not a list', 'ok', '{"keys":{}}'],
    ['null', 'ok', 'null']
  ]
  for (const [name, mode, body] of bodies) {
    const jwks = await jwksServer(t, [{ ...key, kid: 'kid-0' }])
    jwks.state.mode = mode
    jwks.state.body = body
    const app = await appFor(t, jwks.url)
    const response = await who(app, await mint({ key: { ...key, kid: 'kid-0' } }))
    t.equal(response.statusCode, 503, name)
    t.equal(response.json().code, 'FST_JWT_AUTH_ISSUER_UNAVAILABLE', name)
  }
})

t.test('tokens that are no JWT, or whose payload names no issuer, go the plugin\'s own way (401)', async (t) => {
  const key = await issuerKey()
  const jwks = await jwksServer(t, [key])
  const app = await appFor(t, jwks.url, {}, { legacy: { secret: 'old-secret', algorithms: ['HS256'], until: '2099-01-01' } })
  const b64 = (value: string): string => Buffer.from(value).toString('base64url')
  const rs = b64(JSON.stringify({ alg: 'RS256', kid: key.kid, typ: 'at+jwt' }))
  const garbage = ['nodots', `${b64('not json')}.e30.sig`, `${b64('null')}.e30.sig`, `${b64('[1]')}.e30.sig`, `${b64('7')}.e30.sig`,
    `${rs}.${b64('{"iss":1}')}.sig`, `${rs}.${b64('nope')}.sig`]
  for (const token of garbage) {
    const response = await who(app, token)
    t.equal(response.statusCode, 401, token)
  }
  t.equal(jwks.state.fetches, 0, 'none of them fetched')
  t.equal((await who(app, `${rs}.${b64(JSON.stringify({ iss: IDP }))}`)).statusCode, 401, 'no signature part: refused')
  for (let i = 0; i < 20; i++) await who(app, `${b64(JSON.stringify({ alg: 'RS256', n: i }))}.e30.sig`)
  t.equal((await who(app, await mint({ key }))).statusCode, 200, 'a flood of distinct headers changes nothing')
})

t.test('two issuers with different algorithms: each accepts only its own', async (t) => {
  const rsa = await issuerKey()
  const ec = await issuerKey('ES256')
  const jwks = await jwksServer(t, [rsa, ec])
  const app = await appFor(t, jwks.url, {}, {
    trustedIssuers: [
      { issuer: IDP, jwksUri: jwks.url, audience: API, algorithms: ['RS256'] },
      { issuer: 'https://ec.example', jwksUri: jwks.url, audience: API, algorithms: ['ES256'] }
    ]
  })
  const refused = await who(app, await mint({ key: ec }))
  t.equal(refused.statusCode, 401)
  t.match(refused.json().message, /algorithm is not allowed/)
  t.equal(jwks.state.fetches, 0)
  t.equal((await who(app, await mint({ key: ec, claims: { iss: 'https://ec.example' } }))).statusCode, 200)
})

t.test('trustedIssuers options are checked at register', async (t) => {
  const valid = { issuer: IDP, jwksUri: 'https://idp.example.com/certs', audience: API, algorithms: ['RS256'] }
  const cases: Array<[unknown, RegExp, Record<string, unknown>?]> = [
    [valid, /trustedIssuers must be an array/],
    [['x'], /trustedIssuers\[0\] must be \{ issuer, jwksUri, audience, algorithms \}/],
    [[{ ...valid, jwksUrl: 'x' }], /unknown option trustedIssuers\[0\]\.jwksUrl \(did you mean trustedIssuers\[0\]\.jwksUri\?\)/],
    [[{ ...valid, issuer: '' }], /trustedIssuers\[0\]\.issuer must be a non-empty string/],
    [[{ ...valid, jwksUri: 'http://idp.example.com/certs' }], /trustedIssuers\[0\]\.jwksUri must be an https URL \(or http on loopback\)/],
    [[{ ...valid, jwksUri: 'ftp://127.0.0.1/certs' }], /jwksUri must be an https URL/],
    [[{ ...valid, jwksUri: 'not a url' }], /jwksUri must be an https URL/],
    [[{ ...valid, jwksUri: 42 }], /jwksUri must be an https URL/],
    [[{ ...valid, jwksUri: 'https://user:pw@idp.example.com/certs' }], /jwksUri must not carry credentials/],
    [[{ ...valid, jwksUri: 'https://idp.example.com/certs#x' }], /jwksUri must not carry credentials or a #fragment/],
    [[{ ...valid, audience: [] }], /trustedIssuers\[0\]\.audience must be a non-empty string or a non-empty array/],
    [[{ ...valid, audience: undefined }], /audience must be/],
    [[{ ...valid, algorithms: [] }], /trustedIssuers\[0\]\.algorithms must be a non-empty array/],
    [[{ ...valid, algorithms: ['HS256'] }], /algorithms must hold only RS256, .* \(got HS256\): a JWKS publishes public keys/],
    [[{ ...valid, algorithms: ['none'] }], /\(got none\)/],
    [[{ ...valid, typ: '' }], /trustedIssuers\[0\]\.typ must be a non-empty string/],
    [[{ ...valid, mapUser: 'x' }], /trustedIssuers\[0\]\.mapUser must be a function/],
    [[{ ...valid, cooldown: 0 }], /trustedIssuers\[0\]\.cooldown must be a duration/],
    [[{ ...valid, timeout: '5 mins' }], /trustedIssuers\[0\]\.timeout must be a duration/],
    [[{ ...valid, cacheTtl: -1 }], /trustedIssuers\[0\]\.cacheTtl must be a duration/],
    [[valid, { ...valid }], /trustedIssuers\[1\]\.issuer: .* is listed twice/],
    [[valid], /trustedIssuers\[0\]\.issuer must differ from issuer/, { issuer: IDP }]
  ]
  for (const [trustedIssuers, message, extra] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(jwtAuth, { secret: SECRET, trustedIssuers, ...extra } as JwtAuthOptions) }, { code: 'FST_JWT_AUTH_INVALID_OPTION', message }, String(message))
    await app.close()
  }
  for (const jwksUri of ['http://localhost:8080/certs', 'http://127.0.0.2/certs', 'http://[::1]:9/certs', 'https://idp.example.com/certs?realm=x']) {
    const app = Fastify()
    await app.register(jwtAuth, { secret: SECRET, trustedIssuers: [{ ...valid, jwksUri, typ: 'Application/AT+JWT', algorithms: ['RS256', 'RS256', 'EdDSA'] }] } as JwtAuthOptions)
    await app.ready()
    t.pass(jwksUri)
    await app.close()
  }
  const empty = Fastify()
  await empty.register(jwtAuth, { secret: SECRET, trustedIssuers: [] })
  await empty.close()
})
