import { createHmac, generateKeyPairSync, sign as rsaSign } from 'node:crypto'
import { once } from 'node:events'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { ACCESS_HEADER, accessClaims, bearer, appOnStore, buildApp, craftToken, REFRESH_HEADER, SECRET, STORE_FACTORIES } from './helpers/app.js'

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
const now = (): number => Math.floor(Date.now() / 1000)
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const publicPem = publicKey.export({ type: 'spki', format: 'pem' }) as string
const attackerJwk = publicKey.export({ format: 'jwk' })

interface Attack {
  name: string
  token: () => string
  /** 400 for a malformed request; 401 (invalid_token) for every bad token. */
  status?: 400 | 401
  code?: string
  /** Well signed with our key: revoke() may accept it (it takes expired tokens of either type by design). */
  signedByUs?: boolean
}

const valid = (): string => craftToken(ACCESS_HEADER, accessClaims())
const [validHead, validBody] = ((): string[] => valid().split('.'))()

const attacks: Attack[] = [
  // Unsigned tokens and alg tricks (RFC 8725 2.1, 3.1)
  { name: 'alg none, empty signature', token: () => `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(accessClaims())}.` },
  { name: 'alg None (case variant)', token: () => `${b64({ alg: 'None', typ: 'at+jwt' })}.${b64(accessClaims())}.` },
  { name: 'alg NONE with a stale signature', token: () => `${b64({ alg: 'NONE', typ: 'at+jwt' })}.${b64(accessClaims())}.${valid().split('.')[2]}` },
  { name: 'no alg at all', token: () => craftToken({ typ: 'at+jwt' }, accessClaims()) },
  { name: 'signature stripped', token: () => `${validHead}.${validBody}.` },
  { name: 'two segments only', token: () => `${validHead}.${validBody}`, status: 401 },
  { name: 'HS384 with the same secret (algorithm not allowed)', token: () => craftToken({ alg: 'HS384', typ: 'at+jwt' }, accessClaims(), { alg: 'sha384' }) },
  { name: 'HS512 with the same secret', token: () => craftToken({ alg: 'HS512', typ: 'at+jwt' }, accessClaims(), { alg: 'sha512' }) },
  {
    name: 'RS256 signed by an attacker key',
    token: () => {
      const input = `${b64({ alg: 'RS256', typ: 'at+jwt' })}.${b64(accessClaims())}`
      return `${input}.${rsaSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`
    }
  },
  { name: 'RS256 header, HMAC signature with a public key as secret (key confusion)', token: () => craftToken({ alg: 'RS256', typ: 'at+jwt' }, accessClaims(), { secret: publicPem }) },
  { name: 'HS256 signed with a public key PEM as secret', token: () => craftToken(ACCESS_HEADER, accessClaims(), { secret: publicPem }) },
  // Forged or re-signed (OWASP: signature not verified, weak secret)
  { name: 'signed with another secret', token: () => craftToken(ACCESS_HEADER, accessClaims(), { secret: 'attacker-secret-attacker-secret-attacker' }) },
  { name: 'signed with an empty secret', token: () => craftToken(ACCESS_HEADER, accessClaims(), { secret: '' }) },
  { name: 'signature of another token', token: () => `${b64(ACCESS_HEADER)}.${b64(accessClaims({ sub: '2' }))}.${valid().split('.')[2]}` },
  { name: 'payload tampered (roles escalated)', token: () => `${validHead}.${b64(accessClaims({ roles: ['admin', 'root'] }))}.${valid().split('.')[2]}` },
  { name: 'signature truncated', token: () => valid().slice(0, -5) },
  { name: 'signature bit-flipped', token: () => { const v = valid(); return v.slice(0, -2) + (v.endsWith('AA') ? 'AB' : 'AA') } },
  { name: 'signature with base64 padding', token: () => `${valid()}==` },
  // Key and header injection (RFC 8725 2.6, 3.10)
  { name: 'embedded jwk header (attacker key)', token: () => craftToken({ ...ACCESS_HEADER, jwk: attackerJwk }, accessClaims()) },
  { name: 'jku header pointing elsewhere', token: () => craftToken({ ...ACCESS_HEADER, jku: 'https://attacker.example/jwks.json' }, accessClaims()) },
  { name: 'x5u header', token: () => craftToken({ ...ACCESS_HEADER, x5u: 'https://attacker.example/cert.pem' }, accessClaims()) },
  { name: 'x5c header', token: () => craftToken({ ...ACCESS_HEADER, x5c: ['MIIB'] }, accessClaims()) },
  { name: 'crit header with an unknown extension', token: () => craftToken({ ...ACCESS_HEADER, crit: ['exp'], exp: 1 }, accessClaims()) },
  { name: 'kid path traversal, signed with /dev/null content', token: () => craftToken({ ...ACCESS_HEADER, kid: '../../../../dev/null' }, accessClaims(), { secret: '' }) },
  { name: 'kid SQL injection, signed with an attacker secret', token: () => craftToken({ ...ACCESS_HEADER, kid: "x' UNION SELECT 'key" }, accessClaims(), { secret: 'key' }) },
  { name: '__proto__ in the header', token: () => craftToken(`${b64('{"alg":"HS256","typ":"at+jwt","__proto__":{"admin":true}}')}`, accessClaims()) },
  // Token type confusion (RFC 8725 2.8, 3.11)
  { name: 'refresh token as access token', token: () => craftToken(REFRESH_HEADER, accessClaims()), code: 'FST_JWT_AUTH_WRONG_TOKEN_TYPE', signedByUs: true },
  { name: 'typ JWT (untyped)', token: () => craftToken({ alg: 'HS256', typ: 'JWT' }, accessClaims()), code: 'FST_JWT_AUTH_WRONG_TOKEN_TYPE' },
  { name: 'no typ', token: () => craftToken({ alg: 'HS256' }, accessClaims()), code: 'FST_JWT_AUTH_WRONG_TOKEN_TYPE' },
  { name: 'typ as an array', token: () => craftToken({ alg: 'HS256', typ: ['at+jwt'] }, accessClaims()), code: 'FST_JWT_AUTH_WRONG_TOKEN_TYPE' },
  // Claims: issuer, audience, times (RFC 7519 4.1, RFC 8725 3.8, 3.9)
  { name: 'wrong issuer', token: () => craftToken(ACCESS_HEADER, accessClaims({ iss: 'evil' })) },
  { name: 'missing issuer', token: () => craftToken(ACCESS_HEADER, accessClaims({ iss: undefined })) },
  { name: 'wrong audience', token: () => craftToken(ACCESS_HEADER, accessClaims({ aud: 'other-app' })) },
  { name: 'audience list without ours', token: () => craftToken(ACCESS_HEADER, accessClaims({ aud: ['a', 'b'] })) },
  { name: 'missing audience', token: () => craftToken(ACCESS_HEADER, accessClaims({ aud: undefined })) },
  { name: 'expired', token: () => craftToken(ACCESS_HEADER, accessClaims({ iat: now() - 120, exp: now() - 60 })), code: 'FST_JWT_AUTH_TOKEN_EXPIRED', signedByUs: true },
  { name: 'expired long ago', token: () => craftToken(ACCESS_HEADER, accessClaims({ iat: 1, exp: 2 })), code: 'FST_JWT_AUTH_TOKEN_EXPIRED', signedByUs: true },
  { name: 'not yet valid (nbf)', token: () => craftToken(ACCESS_HEADER, accessClaims({ nbf: now() + 60 })), code: 'FST_JWT_AUTH_TOKEN_NOT_ACTIVE', signedByUs: true },
  { name: 'missing exp', token: () => craftToken(ACCESS_HEADER, accessClaims({ exp: undefined })) },
  { name: 'exp as a string', token: () => craftToken(ACCESS_HEADER, accessClaims({ exp: String(now() + 600) })) },
  { name: 'nbf as a string', token: () => craftToken(ACCESS_HEADER, accessClaims({ nbf: '0' })), signedByUs: true },
  { name: 'iat as a string', token: () => craftToken(ACCESS_HEADER, accessClaims({ iat: 'now' })) },
  { name: 'missing iat', token: () => craftToken(ACCESS_HEADER, accessClaims({ iat: undefined })) },
  // Claim type confusion on our own claims
  { name: 'sub as a number', token: () => craftToken(ACCESS_HEADER, accessClaims({ sub: 1 })) },
  { name: 'sub as an array', token: () => craftToken(ACCESS_HEADER, accessClaims({ sub: ['1'] })) },
  { name: 'sub as an object', token: () => craftToken(ACCESS_HEADER, accessClaims({ sub: { $ne: null } })) },
  { name: 'empty sub', token: () => craftToken(ACCESS_HEADER, accessClaims({ sub: '' })) },
  { name: 'missing sub', token: () => craftToken(ACCESS_HEADER, accessClaims({ sub: undefined })) },
  { name: 'missing jti', token: () => craftToken(ACCESS_HEADER, accessClaims({ jti: undefined })) },
  { name: 'jti as a number', token: () => craftToken(ACCESS_HEADER, accessClaims({ jti: 5 })) },
  { name: 'missing family', token: () => craftToken(ACCESS_HEADER, accessClaims({ fam: undefined })) },
  { name: 'family as an object', token: () => craftToken(ACCESS_HEADER, accessClaims({ fam: { a: 1 } })) },
  { name: 'epoch as a number', token: () => craftToken(ACCESS_HEADER, accessClaims({ ep: 1 })) },
  { name: 'roles as a string', token: () => craftToken(ACCESS_HEADER, accessClaims({ roles: 'admin' })) },
  { name: 'roles with a non-string', token: () => craftToken(ACCESS_HEADER, accessClaims({ roles: ['admin', 1] })) },
  // Malformed JSON and base64 (RFC 7519 7.2)
  { name: 'header not JSON', token: () => `${b64('{alg:HS256')}.${validBody}.sig` },
  { name: 'payload not JSON', token: () => craftToken(ACCESS_HEADER, b64('{"sub":"1"')) },
  { name: 'payload a JSON array', token: () => craftToken(ACCESS_HEADER, b64('[1,2,3]')) },
  { name: 'payload JSON null', token: () => craftToken(ACCESS_HEADER, b64('null')) },
  { name: 'payload a JSON string', token: () => craftToken(ACCESS_HEADER, b64('"admin"')) },
  { name: 'header a JSON array', token: () => craftToken(b64('["HS256"]'), accessClaims()) },
  { name: 'header JSON null', token: () => craftToken(b64('null'), accessClaims()) },
  { name: 'payload not UTF-8', token: () => craftToken(ACCESS_HEADER, Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('base64url')) },
  { name: 'standard base64 (+/) in the payload', token: () => `${validHead}.${Buffer.from(JSON.stringify(accessClaims({ x: '>>>???' }))).toString('base64')}.sig` },
  { name: 'four segments', token: () => `${valid()}.extra` },
  { name: 'only dots', token: () => '...' },
  { name: 'empty header and payload', token: () => '..sig' },
  { name: 'a single segment', token: () => 'abcdef' },
  { name: 'deeply nested payload', token: () => craftToken(ACCESS_HEADER, b64('{"sub":' + '['.repeat(2000) + ']'.repeat(2000) + '}')) },
  { name: 'oversized token', token: () => craftToken(ACCESS_HEADER, accessClaims({ pad: 'x'.repeat(9000) })), status: 400, signedByUs: true },
  { name: 'duplicate sub keys, last one tampered', token: () => `${validHead}.${b64(JSON.stringify(accessClaims()).replace('{', '{"sub":"2",'))}.${valid().split('.')[2]}` }
]

function challengeFor (status: number): RegExp {
  return status === 400
    ? /^Bearer realm="test-api", error="invalid_request", error_description="[^"]+"$/
    : /^Bearer realm="test-api", error="invalid_token", error_description="[^"]+"$/
}

for (const { name, create } of STORE_FACTORIES) {
  t.test(`hostile tokens (${name} store)`, async (t) => {
    const app = await appOnStore(t, create)

    t.equal((await app.inject({ url: '/me', headers: bearer(valid()) })).statusCode, 200, 'control: the crafting tool makes valid tokens')

    for (const attack of attacks) {
      t.test(attack.name, async (t) => {
        const token = attack.token()
        const status = attack.status ?? 401
        for (const url of ['/me', '/admin']) {
          const response = await app.inject({ url, headers: bearer(token) })
          t.equal(response.statusCode, status, `${url} answers ${status}`)
          t.match(response.headers['www-authenticate'], challengeFor(status), `${url} challenge`)
          if (attack.code !== undefined) t.equal(response.json().code, attack.code)
        }
        // The API entry points refuse it too, with 4xx errors.
        if (status === 401) {
          await t.rejects(app.jwtAuth.verify(token), { name: 'FastifyError', statusCode: 401 })
          await t.rejects(app.jwtAuth.refresh(token), { name: 'FastifyError', statusCode: 401 })
        }
        if (attack.signedByUs !== true) await t.rejects(app.jwtAuth.revoke(token), { name: 'FastifyError', statusCode: 401 })
      })
    }

    t.test('forged refresh tokens never refresh', async (t) => {
      const refreshClaims = { sub: '1', jti: 'j', fam: 'f', iat: now(), exp: now() + 600, iss: 'test-api', aud: 'test-app' }
      const forged = [
        craftToken(REFRESH_HEADER, refreshClaims, { secret: 'attacker-secret-attacker-secret-attacker' }),
        `${b64({ alg: 'none', typ: 'rt+jwt' })}.${b64(refreshClaims)}.`,
        craftToken(ACCESS_HEADER, refreshClaims),
        craftToken(REFRESH_HEADER, refreshClaims) // well signed, but never issued: no live record
      ]
      for (const token of forged) {
        await t.rejects(app.jwtAuth.refresh(token), { name: 'FastifyError', statusCode: 401 })
      }
    })

    t.test('replay after logout, after revokeAll and after rotation reuse all fail', async (t) => {
      const login = await app.jwtAuth.issue({ id: 1, roles: ['admin'] })
      await app.jwtAuth.revoke(login.accessToken)
      for (let i = 0; i < 3; i++) {
        const response = await app.inject({ url: '/me', headers: bearer(login.accessToken) })
        t.equal(response.statusCode, 401)
        t.equal(response.json().code, 'FST_JWT_AUTH_TOKEN_REVOKED')
        t.equal(response.headers['www-authenticate'], 'Bearer realm="test-api", error="invalid_token", error_description="The token has been revoked"')
      }
      const second = await app.jwtAuth.issue({ id: 1 })
      await app.jwtAuth.revokeAll(1)
      t.equal((await app.inject({ url: '/admin', headers: bearer(second.accessToken) })).statusCode, 401)
    })

    t.test('a prototype-pollution payload grants nothing', async (t) => {
      const noFindById = await buildApp(app.jwtAuth.store, { findById: false })
      t.teardown(() => noFindById.close())
      const token = craftToken(ACCESS_HEADER, b64(JSON.stringify(accessClaims({ sub: '9', fam: 'f9', roles: undefined })).replace('{', '{"__proto__":{"roles":["admin"]},')))
      const response = await noFindById.inject({ url: '/admin', headers: bearer(token) })
      t.equal(response.statusCode, 403)
      t.equal(({} as { roles?: unknown }).roles, undefined, 'Object.prototype untouched')
    })

    t.test('random garbage never yields a 2xx or a 5xx', async (t) => {
      let seed = 42
      const random = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/='
      const statuses = new Set<number>()
      for (let i = 0; i < 300; i++) {
        let token = ''
        const length = 1 + Math.floor(random() * 300)
        for (let j = 0; j < length; j++) token += alphabet[Math.floor(random() * alphabet.length)]
        // sometimes a real header and payload with a random signature
        if (i % 3 === 0) token = `${validHead}.${validBody}.${token.replace(/[.~+/=]/g, '')}`
        const response = await app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })
        statuses.add(response.statusCode)
        if (response.statusCode !== 400 && response.statusCode !== 401) t.fail(`${response.statusCode} for ${token}`)
      }
      t.ok([...statuses].every((status) => status === 400 || status === 401), `statuses seen: ${[...statuses].join(', ')}`)
    })
  })
}

t.test('over HTTP: an oversized Authorization header is refused by the server with a 4xx', async (t) => {
  const app = await buildApp(undefined)
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const send = async (authorization: string): Promise<number> => {
    const request = httpRequest({ host: '127.0.0.1', port, path: '/me', headers: { authorization } })
    request.end()
    const [response] = await once(request, 'response')
    response.resume()
    return response.statusCode
  }
  t.equal(await send(`Bearer ${'a'.repeat(20_000)}`), 431, 'Node refuses headers over its limit')
  t.equal(await send(`Bearer ${'a'.repeat(9000)}`), 400, 'the plugin refuses tokens over maxTokenLength')
  t.equal(await send(`Bearer ${craftToken(ACCESS_HEADER, accessClaims())}`), 200)
})

t.test('control: HMAC of the crafting tool matches the plugin', async (t) => {
  const token = craftToken(ACCESS_HEADER, accessClaims())
  const [head, body, sig] = token.split('.')
  t.equal(createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url'), sig)
})
