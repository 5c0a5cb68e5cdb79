// The hostile-token suite again, for each asymmetric algorithm.
import { createHmac } from 'node:crypto'
import Fastify from 'fastify'
import t from 'tap'
import jwtAuth, { type JwtAuthOptions } from '../lib/index.js'
import { accessClaims, AUDIENCE, bearer, ISSUER } from './helpers/app.js'
import { type Alg, craftAsymmetric, generate, signJws } from './helpers/keys.js'

const ALGORITHMS: Alg[] = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']
const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
const SIGNATURE_BYTES: Record<Alg, number> = { RS256: 256, PS256: 256, ES256: 64, ES384: 96, EdDSA: 64 }

function hmacToken (header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}

for (const alg of ALGORITHMS) {
  t.test(`hostile tokens against ${alg} keys`, async (t) => {
    const ours = generate(alg)
    const attacker = generate(alg)
    const kid = `${alg}-key`
    const app = Fastify()
    await app.register(jwtAuth, { keys: [{ kid, algorithm: alg, privateKey: ours.privateKey }], issuer: ISSUER, audience: AUDIENCE } as JwtAuthOptions)
    app.get('/me', { onRequest: app.authenticate }, async () => 'ok')
    t.teardown(() => app.close())

    const header = { alg, typ: 'at+jwt', kid }
    const valid = craftAsymmetric(alg, ours.privateKey, header, accessClaims())
    t.equal((await app.inject({ url: '/me', headers: bearer(valid) })).statusCode, 200, 'control: a token signed with our key is accepted')

    // Every form of our public key an attacker might use as an HMAC secret (RFC 8725 2.1).
    const spki = ours.publicKey.export({ type: 'spki', format: 'pem' }) as string
    const der = ours.publicKey.export({ type: 'spki', format: 'der' })
    const secrets: Array<[string, string | Buffer]> = [
      ['SPKI PEM', spki],
      ['SPKI PEM without the last newline', spki.trimEnd()],
      ['SPKI PEM with CRLF', spki.replace(/\n/g, '\r\n')],
      ['SPKI PEM body only', spki.replace(/-----[^-]+-----|\s/g, '')],
      ['SPKI DER', der],
      ['SPKI DER as base64url', der.toString('base64url')],
      ['JWK as JSON', JSON.stringify(ours.publicKey.export({ format: 'jwk' }))],
      ['JWK x or n value', String((ours.publicKey.export({ format: 'jwk' }) as { n?: string, x?: string }).n ?? (ours.publicKey.export({ format: 'jwk' }) as { x: string }).x)],
      ...(alg === 'RS256' || alg === 'PS256' ? [['PKCS#1 PEM', ours.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string] as [string, string]] : []),
      ['the kid', kid],
      ['an empty secret', '']
    ]

    const input = valid.slice(0, valid.lastIndexOf('.'))
    const attacks: Array<[string, string]> = [
      ['alg none', `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${b64(accessClaims())}.`],
      ['alg none with our signature', `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${b64(accessClaims())}.${valid.split('.')[2]}`],
      ...secrets.flatMap(([name, secret]): Array<[string, string]> => [
        [`HS256 with our kid, keyed with ${name}`, hmacToken({ alg: 'HS256', typ: 'at+jwt', kid }, accessClaims(), secret)],
        [`${alg} header, HMAC signature keyed with ${name}`, hmacToken(header, accessClaims(), secret)]
      ]),
      ['HS512 with our kid keyed with the PEM', `${b64({ alg: 'HS512', typ: 'at+jwt', kid })}.${b64(accessClaims())}.${createHmac('sha512', spki).update('x').digest('base64url')}`],
      ['relabelled to another algorithm', `${b64({ ...header, alg: alg === 'RS256' ? 'PS256' : alg === 'PS256' ? 'RS256' : alg === 'ES256' ? 'ES384' : 'ES256' })}.${b64(accessClaims())}.${valid.split('.')[2]}`],
      ['an all-zero signature (psychic signature)', `${input}.${Buffer.alloc(SIGNATURE_BYTES[alg]).toString('base64url')}`],
      ['an empty signature', `${input}.`],
      ['a one-byte signature', `${input}.AA`],
      ['signature truncated', valid.slice(0, -6)],
      ['signature of another payload', `${b64(header)}.${b64(accessClaims({ roles: ['root'] }))}.${valid.split('.')[2]}`],
      ['signed by an attacker key with our kid', craftAsymmetric(alg, attacker.privateKey, header, accessClaims())],
      ['embedded jwk of the attacker key', craftAsymmetric(alg, attacker.privateKey, { ...header, jwk: attacker.publicKey.export({ format: 'jwk' }) }, accessClaims())],
      ['jku pointing elsewhere', craftAsymmetric(alg, attacker.privateKey, { ...header, jku: 'https://attacker.example/jwks' }, accessClaims())],
      ['x5c with an attacker certificate', craftAsymmetric(alg, attacker.privateKey, { ...header, x5c: ['MIIB'] }, accessClaims())],
      ['an unknown kid', craftAsymmetric(alg, ours.privateKey, { ...header, kid: 'other' }, accessClaims())],
      ['no kid', craftAsymmetric(alg, ours.privateKey, { alg, typ: 'at+jwt' }, accessClaims())],
      ['kid as a number', craftAsymmetric(alg, ours.privateKey, { ...header, kid: 1 }, accessClaims())],
      ['kid path traversal', craftAsymmetric(alg, ours.privateKey, { ...header, kid: '../../../dev/null' }, accessClaims())],
      ['kid __proto__', craftAsymmetric(alg, ours.privateKey, { ...header, kid: '__proto__' }, accessClaims())],
      ['a header that is not JSON', `${b64('{"alg":')}.${b64(accessClaims())}.AAAA`],
      // Claims, with our own key: the signature is right, the token is not.
      ['expired (our key)', craftAsymmetric(alg, ours.privateKey, header, accessClaims({ iat: 1, exp: 2 }))],
      ['not yet valid (our key)', craftAsymmetric(alg, ours.privateKey, header, accessClaims({ nbf: Math.floor(Date.now() / 1000) + 600 }))],
      ['wrong issuer (our key)', craftAsymmetric(alg, ours.privateKey, header, accessClaims({ iss: 'evil' }))],
      ['wrong audience (our key)', craftAsymmetric(alg, ours.privateKey, header, accessClaims({ aud: 'evil' }))],
      ['a refresh token (our key)', craftAsymmetric(alg, ours.privateKey, { ...header, typ: 'rt+jwt' }, accessClaims())],
      ['untyped (our key)', craftAsymmetric(alg, ours.privateKey, { ...header, typ: 'JWT' }, accessClaims())],
      ['sub as a number (our key)', craftAsymmetric(alg, ours.privateKey, header, accessClaims({ sub: 1 }))],
      ['no jti (our key)', craftAsymmetric(alg, ours.privateKey, header, accessClaims({ jti: undefined }))]
    ]
    if (alg === 'ES256' || alg === 'ES384') {
      // A DER-encoded ECDSA signature by our key: valid bytes, wrong JWS encoding (RFC 7518 3.4).
      const { sign } = await import('node:crypto')
      const derSignature = sign(alg === 'ES256' ? 'sha256' : 'sha384', Buffer.from(input), ours.privateKey).toString('base64url')
      attacks.push(['a DER-encoded ECDSA signature', `${input}.${derSignature}`])
      const half = SIGNATURE_BYTES[alg] / 2
      attacks.push(['r = 0, s = n-ish (0 and 0xff..)', `${input}.${Buffer.concat([Buffer.alloc(half), Buffer.alloc(half, 0xff)]).toString('base64url')}`])
    }

    for (const [name, token] of attacks) {
      const response = await app.inject({ url: '/me', headers: bearer(token) })
      t.equal(response.statusCode, 401, `${name}: 401`)
      t.match(response.headers['www-authenticate'], /^Bearer realm="test-api", error="invalid_token", error_description="[^"]+"$/, `${name}: challenge`)
      await t.rejects(app.jwtAuth.verify(token), { name: 'FastifyError', statusCode: 401 }, `${name}: verify() refuses it`)
    }
    t.equal(signJws(alg, ours.privateKey, 'x').length > 0, true)
  })
}
