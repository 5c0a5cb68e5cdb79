// Several HMAC secrets with kids: the first signs, each verifies only the tokens of its kid, with its own algorithm.
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import jwtAuth, { memoryStore, type HmacSecret, type JwtAuthOptions, type MemoryStore } from '../lib/index.js'
import { accessClaims, bearer, buildApp, craftToken, decodePart, ISSUER, SECRET } from './helpers/app.js'

const OLD: HmacSecret = { kid: '2026-10', secret: randomBytes(32).toString('base64') }
const NEW: HmacSecret = { kid: '2026-11', secret: randomBytes(64), algorithm: 'HS512' }
const CHALLENGE = /^Bearer realm="test-api", error="invalid_token", error_description="[^"]+"$/

/** An app on `store`, or on a memory store of its own when none is given. */
async function appWith (t: Test, secret: JwtAuthOptions['secret'], store?: MemoryStore) {
  const app = await buildApp(store, { options: { secret } })
  t.teardown(() => app.close())
  return app
}

/** A store shared by the instances of one test (the old and the new configuration), closed at teardown. */
function sharedStore (t: Test) {
  const store = memoryStore()
  t.teardown(() => store.close())
  return store
}

async function expectUnknownKey (t: Test, app: Awaited<ReturnType<typeof appWith>>, token: string, name: string) {
  const response = await app.inject({ url: '/me', headers: bearer(token) })
  t.equal(response.statusCode, 401, `${name}: 401`)
  t.equal(response.headers['www-authenticate'], `Bearer realm="${ISSUER}", error="invalid_token", error_description="The token key is unknown"`, `${name}: challenge`)
}

t.test('rotation: a new secret first, the old one kept to verify until its tokens expire', async (t) => {
  const store = sharedStore(t)
  const before = await appWith(t, [OLD], store)
  const old = await before.jwtAuth.issue({ id: 1 })
  const older = await before.jwtAuth.issue({ id: 2 })
  t.same(decodePart(old.accessToken, 0), { alg: 'HS256', typ: 'at+jwt', kid: '2026-10' }, 'the signing entry puts its kid in the header')
  t.same(decodePart(old.refreshToken, 0), { alg: 'HS256', typ: 'rt+jwt', kid: '2026-10' })

  const during = await appWith(t, [NEW, OLD], store)
  t.equal((await during.inject({ url: '/me', headers: bearer(old.accessToken) })).statusCode, 200, 'access tokens of the old secret keep working')
  const rotated = await during.jwtAuth.refresh(old.refreshToken)
  t.same(decodePart(rotated.accessToken, 0), { alg: 'HS512', typ: 'at+jwt', kid: '2026-11' }, 'a refresh of an old token gets a pair of the new secret')
  t.same(decodePart(rotated.refreshToken, 0), { alg: 'HS512', typ: 'rt+jwt', kid: '2026-11' })
  const again = await during.jwtAuth.refresh(rotated.refreshToken)
  t.equal((await during.inject({ url: '/me', headers: bearer(again.accessToken) })).statusCode, 200, 'refresh rotation goes on')
  await during.jwtAuth.revoke(older.accessToken)
  t.equal((await during.inject({ url: '/me', headers: bearer(older.accessToken) })).statusCode, 401, 'a token of the old secret can be revoked')
  const fresh = await during.jwtAuth.issue({ id: 3 })
  t.equal(decodePart(fresh.accessToken, 0).kid, '2026-11', 'new tokens carry the kid of the new secret')

  const after = await appWith(t, [NEW], store)
  t.equal((await after.inject({ url: '/me', headers: bearer(again.accessToken) })).statusCode, 200, 'tokens of the new secret live on')
  await expectUnknownKey(t, after, old.accessToken, 'an access token of the dropped secret')
  await t.rejects(after.jwtAuth.refresh(fresh.refreshToken.replace(/^[^.]+/, old.refreshToken.split('.')[0]!)), { name: 'FastifyError', statusCode: 401 }, 'a relabelled refresh token')
  const freshFromOld = await before.jwtAuth.issue({ id: 1 })
  await t.rejects(after.jwtAuth.refresh(freshFromOld.refreshToken), { code: 'FST_JWT_AUTH_INVALID_TOKEN', statusCode: 401, message: 'The token key is unknown' }, 'a refresh token of the dropped secret')
})

t.test('migration from a single secret: the entry without a kid keeps the tokens signed before', async (t) => {
  const store = sharedStore(t)
  const NEXT: HmacSecret = { kid: 'k2', secret: randomBytes(48), algorithm: 'HS384' }
  const single = await appWith(t, SECRET, store)
  const old = await single.jwtAuth.issue({ id: 1 })
  t.same(decodePart(old.accessToken, 0), { alg: 'HS256', typ: 'at+jwt' })

  // Step 1 on every instance: the new secret second. The old one still signs, without a kid.
  const step1 = await appWith(t, [{ secret: SECRET }, NEXT], store)
  const signedAtStep1 = await step1.jwtAuth.issue({ id: 2 })
  t.same(decodePart(signedAtStep1.accessToken, 0), { alg: 'HS256', typ: 'at+jwt' }, 'a first entry without a kid signs without one')
  t.equal((await single.inject({ url: '/me', headers: bearer(signedAtStep1.accessToken) })).statusCode, 200, 'instances not yet at step 1 accept its tokens')
  t.equal((await step1.inject({ url: '/me', headers: bearer(old.accessToken) })).statusCode, 200)

  // Step 2: the new secret first.
  const step2 = await appWith(t, [NEXT, { secret: SECRET }], store)
  const signedAtStep2 = await step2.jwtAuth.issue({ id: 2 })
  t.same(decodePart(signedAtStep2.accessToken, 0), { alg: 'HS384', typ: 'at+jwt', kid: 'k2' })
  t.equal((await step1.inject({ url: '/me', headers: bearer(signedAtStep2.accessToken) })).statusCode, 200, 'instances still at step 1 accept the new tokens')
  t.equal((await step2.inject({ url: '/me', headers: bearer(old.accessToken) })).statusCode, 200, 'tokens signed before the rotation still work')
  const rotated = await step2.jwtAuth.refresh(old.refreshToken)
  t.equal(decodePart(rotated.refreshToken, 0).kid, 'k2', 'their refresh gives tokens of the new secret')
  const withoutKid = craftToken({ alg: 'HS384', typ: 'at+jwt' }, accessClaims(), { secret: NEXT.secret, alg: 'sha384' })
  const response = await step2.inject({ url: '/me', headers: bearer(withoutKid) })
  t.equal(response.statusCode, 401, 'a token without a kid is checked with the old secret only, not the new one')
  t.match(response.headers['www-authenticate'], /error_description="The token algorithm is not allowed"/)

  // Step 3, after the refresh token lifetime: the old secret goes.
  const step3 = await appWith(t, [NEXT], store)
  await expectUnknownKey(t, step3, old.accessToken, 'a token without a kid')
  t.equal((await step3.inject({ url: '/me', headers: bearer(rotated.accessToken) })).statusCode, 200)
})

t.test('an array of one entry without a kid is the single secret', async (t) => {
  const store = sharedStore(t)
  const single = await appWith(t, SECRET, store)
  const listed = await appWith(t, [{ secret: Buffer.from(SECRET) }], store)
  const a = await single.jwtAuth.issue({ id: 1 })
  const b = await listed.jwtAuth.issue({ id: 1 })
  t.same(decodePart(b.accessToken, 0), { alg: 'HS256', typ: 'at+jwt' })
  t.equal((await listed.inject({ url: '/me', headers: bearer(a.accessToken) })).statusCode, 200)
  t.equal((await single.inject({ url: '/me', headers: bearer(b.accessToken) })).statusCode, 200)
  const withKid = await appWith(t, [{ kid: 'only', secret: SECRET }], store)
  await expectUnknownKey(t, withKid, a.accessToken, 'with a kid on the only entry, a token without one')
})

t.test('hostile tokens: each entry verifies only the tokens of its kid, with its own secret and algorithm', async (t) => {
  const b = { kid: 'b', secret: randomBytes(64).toString('hex'), algorithm: 'HS512' as const }
  const c = { kid: 'c', secret: randomBytes(48).toString('hex'), algorithm: 'HS384' as const }
  const d = { kid: 'd', secret: randomBytes(32).toString('hex') }
  const app = await appWith(t, [b, c, d, { secret: SECRET }])
  const claims = accessClaims()
  const sign = (header: Record<string, unknown>, secret: string, alg: string) => craftToken({ typ: 'at+jwt', ...header }, claims, { secret, alg })

  const controls: Array<[string, string]> = [
    ['b', sign({ alg: 'HS512', kid: 'b' }, b.secret, 'sha512')],
    ['c', sign({ alg: 'HS384', kid: 'c' }, c.secret, 'sha384')],
    ['d', sign({ alg: 'HS256', kid: 'd' }, d.secret, 'sha256')],
    ['no kid', sign({ alg: 'HS256' }, SECRET, 'sha256')]
  ]
  for (const [name, token] of controls) {
    t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200, `control: a token of entry ${name}`)
  }

  const attacks: Array<[string, string, string]> = [
    ['an unknown kid', sign({ alg: 'HS256', kid: 'e' }, d.secret, 'sha256'), 'The token key is unknown'],
    ['kid as a number', sign({ alg: 'HS256', kid: 1 }, d.secret, 'sha256'), 'The token key is unknown'],
    ['kid null', sign({ alg: 'HS256', kid: null }, SECRET, 'sha256'), 'The token key is unknown'],
    ['kid as an array', sign({ alg: 'HS256', kid: ['d'] }, d.secret, 'sha256'), 'The token key is unknown'],
    ['kid as an object', sign({ alg: 'HS256', kid: { toString: 'd' } }, d.secret, 'sha256'), 'The token key is unknown'],
    ['kid empty', sign({ alg: 'HS256', kid: '' }, SECRET, 'sha256'), 'The token key is unknown'],
    ['kid __proto__', sign({ alg: 'HS256', kid: '__proto__' }, SECRET, 'sha256'), 'The token key is unknown'],
    ['the HS384 entry\'s kid, an HS256 signature with its secret', sign({ alg: 'HS256', kid: 'c' }, c.secret, 'sha256'), 'The token algorithm is not allowed'],
    ['the HS384 entry\'s kid, an HS512 signature with its secret', sign({ alg: 'HS512', kid: 'c' }, c.secret, 'sha512'), 'The token algorithm is not allowed'],
    ['the HS384 entry\'s kid, signed with the HS512 entry\'s secret', sign({ alg: 'HS384', kid: 'c' }, b.secret, 'sha384'), 'The token signature is invalid'],
    ['re-signed with the right secret under another entry\'s kid', sign({ alg: 'HS384', kid: 'b' }, c.secret, 'sha384'), 'The token algorithm is not allowed'],
    ['another entry\'s kid, same algorithm', sign({ alg: 'HS256', kid: 'd' }, SECRET, 'sha256'), 'The token signature is invalid'],
    ['no kid, signed with an entry that has one', sign({ alg: 'HS256' }, d.secret, 'sha256'), 'The token signature is invalid'],
    ['no kid, the HS512 entry\'s algorithm and secret', sign({ alg: 'HS512' }, b.secret, 'sha512'), 'The token algorithm is not allowed'],
    ['alg none with a kid', craftToken({ alg: 'none', typ: 'at+jwt', kid: 'b' }, claims, { signature: '' }), 'The token signature is missing'],
    ['alg none with a kid and a signature', craftToken({ alg: 'none', typ: 'at+jwt', kid: 'b' }, claims, { signature: controls[0]![1].split('.')[2]! }), 'The token algorithm is not allowed'],
    ['alg none without a kid', craftToken({ alg: 'none', typ: 'at+jwt' }, claims, { signature: '' }), 'The token signature is missing'],
    ['a header that is not JSON', craftToken(Buffer.from('{"kid":').toString('base64url'), claims), 'The token is malformed'],
    ['a header that is JSON null', craftToken(Buffer.from('null').toString('base64url'), claims), 'The token is malformed'],
    ['jku beside a known kid', sign({ alg: 'HS512', kid: 'b', jku: 'https://attacker.example/jwks' }, b.secret, 'sha512'), 'The token header has an unsupported parameter']
  ]
  for (const [name, token, description] of attacks) {
    const response = await app.inject({ url: '/me', headers: bearer(token) })
    t.equal(response.statusCode, 401, `${name}: 401`)
    t.match(response.headers['www-authenticate'], CHALLENGE, `${name}: challenge`)
    t.match(response.headers['www-authenticate'], `error_description="${description}"`, `${name}: ${description}`)
    await t.rejects(app.jwtAuth.verify(token), { name: 'FastifyError', statusCode: 401 }, `${name}: verify() refuses it`)
    await t.rejects(app.jwtAuth.revoke(token), { name: 'FastifyError', statusCode: 401 }, `${name}: revoke() refuses it`)
  }
})

t.test('bad secret lists fail register with an error naming the entry', async (t) => {
  const ok = { kid: 'a', secret: 'a'.repeat(32) }
  const cases: Array<[string, unknown, RegExp]> = [
    ['an empty array', { secret: [] }, /secret must not be an empty array/],
    ['algorithm beside an array', { secret: [ok], algorithm: 'HS256' }, /algorithm cannot go with a secret array: give each entry its own algorithm/],
    ['an entry that is not an object', { secret: [ok, 'x'.repeat(32)] }, /secret\[1\] must be \{ kid, secret, algorithm \}/],
    ['a null entry', { secret: [null] }, /secret\[0\] must be \{ kid, secret, algorithm \}/],
    ['a misspelt entry key', { secret: [{ ...ok, algoritm: 'HS384' }] }, /unknown option secret\[0\]\.algoritm \(did you mean secret\[0\]\.algorithm\?\)/],
    ['an unknown entry key', { secret: [ok, { kid: 'b', secret: 'b'.repeat(32), privateKey: 'pem' }] }, /unknown option secret\[1\]\.privateKey/],
    ['a kid that is not a string', { secret: [{ ...ok, kid: 7 }] }, /secret\[0\]\.kid must be 1 to 128 printable characters/],
    ['an empty kid', { secret: [{ ...ok, kid: '' }] }, /secret\[0\]\.kid must be/],
    ['a kid with a quote', { secret: [{ ...ok, kid: 'a"b' }] }, /secret\[0\]\.kid must be/],
    ['an asymmetric algorithm', { secret: [{ ...ok, algorithm: 'RS256' }] }, /secret\[0\]\.algorithm must be one of HS256, HS384, HS512 \(got RS256\)/],
    ['alg none', { secret: [{ ...ok, algorithm: 'none' }] }, /secret\[0\]\.algorithm must be one of .* \(got none\)/],
    ['no secret', { secret: [ok, { kid: 'b', algorithm: 'HS512' }] }, /secret\[1\]\.secret is required \(an HMAC secret of at least 64 random bytes\)/],
    ['a secret that is a number', { secret: [{ kid: 'a', secret: 1234 }] }, /secret\[0\]\.secret must be a string or a Buffer$/],
    ['a short secret', { secret: [{ kid: 'a', secret: 'short' }] }, /secret\[0\]\.secret must be at least 32 bytes for HS256 \(got 5\)/],
    ['a short HS384 secret', { secret: [ok, { kid: 'b', secret: 'b'.repeat(40), algorithm: 'HS384' }] }, /secret\[1\]\.secret must be at least 48 bytes for HS384 \(got 40\)/],
    ['a short HS512 secret', { secret: [ok, { kid: 'b', secret: Buffer.alloc(63, 1), algorithm: 'HS512' }] }, /secret\[1\]\.secret must be at least 64 bytes for HS512 \(got 63\)/],
    ['duplicate kids', { secret: [ok, { kid: 'b', secret: 'b'.repeat(32) }, { kid: 'a', secret: 'c'.repeat(48), algorithm: 'HS384' }] }, /secret\[2\]\.kid duplicates secret\[0\]\.kid \(a\)/],
    ['two entries without a kid', { secret: [ok, { secret: 'b'.repeat(32) }, { secret: 'c'.repeat(32) }] }, /secret\[2\] has no kid, like secret\[1\]: one entry at most verifies the tokens without one/],
    ['the same secret twice', { secret: [ok, { kid: 'b', secret: Buffer.from('a'.repeat(32)) }] }, /secret\[1\]\.secret is the same as secret\[0\]\.secret/],
    ['a secret that is neither', { secret: 1234 }, /secret must be a string or a Buffer, or an array of \{ kid, secret \}$/],
    ['keys beside a secret array', { secret: [ok], keys: [{ kid: 'k', algorithm: 'EdDSA', publicKey: 'pem' }] }, /either secret \(HMAC\) or keys \(asymmetric\), never both/],
    ['routes.jwks with secrets', { secret: [ok], routes: { jwks: true }, users: { findByLogin: async () => null } }, /routes.jwks needs asymmetric keys \(the keys option\): an HMAC secret is never published/]
  ]
  for (const [name, options, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(jwtAuth, options as JwtAuthOptions) }, { code: 'FST_JWT_AUTH_INVALID_OPTION', message }, name)
    await app.close()
  }
})

t.test('jwks() never publishes an HMAC secret', async (t) => {
  const app = await appWith(t, [NEW, OLD])
  t.same(app.jwtAuth.jwks(), { keys: [] })
})
