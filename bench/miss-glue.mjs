// node bench/miss-glue.mjs (after npm run build): on verify-cache misses, what `authenticate` adds beyond
// fast-jwt's own verify, outside HTTP. A pool of distinct tokens larger than the verify cache (10,000) is cycled,
// so every call misses; the floor is a fast-jwt verifier built with the same options the plugin uses (algorithm,
// typ, required claims, complete), on the same tokens, in the same loop.
import { generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'
import { createSigner, createVerifier } from 'fast-jwt'
import Fastify from 'fastify'
import jwtAuth, { memoryStore } from '../dist/esm/index.js'

// BENCH_SMOKE=1: a few iterations only, so the test suite can check that the script still runs.
const SMOKE = process.env.BENCH_SMOKE === '1'
const POOL = Number(process.env.POOL ?? (SMOKE ? 200 : 12_000))
const ROUNDS = SMOKE ? 1 : 5
const SECRET = 'bench-secret-bench-secret-bench-secret!!'
const users = new Map([['1', { id: 1, roles: ['user'] }]])
const requiredClaims = ['sub', 'jti', 'fam', 'iat', 'exp']

// VERIFY_CACHE=0 measures with the verify cache off (verifyCacheMax: 0): the glue without the cache's upkeep.
const verifyCacheMax = process.env.VERIFY_CACHE === undefined ? undefined : Number(process.env.VERIFY_CACHE)

async function variant (name, options, floorKey, algorithm, mint, floorOptions) {
  const app = Fastify()
  await app.register(jwtAuth, { ...options, verifyCacheMax, store: memoryStore(), users: { findById: async (id) => users.get(id) ?? null } })
  await app.ready()
  process.stderr.write(`${name}: issuing ${POOL} tokens\n`)
  const headers = []
  for (let i = 0; i < POOL; i++) headers.push(`Bearer ${mint ? mint(i) : (await app.jwtAuth.issue({ id: 1 })).accessToken}`)
  // Loads the user into its cache; every measured call is then a verify-cache miss and a user-cache hit.
  await app.authenticate({ headers: { authorization: headers[0] }, raw: { rawHeaders: ['Authorization', headers[0]] }, auth: null, user: null }, {})
  const floor = createVerifier({ key: floorKey, algorithms: [algorithm], checkTyp: 'at+jwt', requiredClaims, complete: true, ...floorOptions })

  const plugin = async () => {
    for (const header of headers) {
      const request = { headers: { authorization: header.slice(0, 7) + header.slice(7) }, raw: { rawHeaders: ['Authorization', header] }, auth: null, user: null }
      const pending = app.authenticate(request, {})
      if (request.auth === null) await pending
    }
  }
  const fastJwt = async () => {
    for (const header of headers) {
      const request = { headers: { authorization: header.slice(0, 7) + header.slice(7) }, raw: { rawHeaders: ['Authorization', header] }, auth: null, user: null }
      request.auth = floor(request.headers.authorization.slice(7))
    }
  }
  const time = async (fn) => { const started = process.hrtime.bigint(); await fn(); return Number(process.hrtime.bigint() - started) / headers.length / 1000 }
  const samples = { plugin: [], fastJwt: [] }
  await plugin(); await fastJwt() // warm-up: one full pass each
  for (let round = 0; round < ROUNDS; round++) {
    samples.plugin.push(await time(plugin))
    samples.fastJwt.push(await time(fastJwt))
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
  const glue = samples.plugin.map((value, i) => value - samples.fastJwt[i])
  console.log(`${name}: authenticate ${median(samples.plugin).toFixed(2)} µs, fast-jwt verify ${median(samples.fastJwt).toFixed(2)} µs, glue ${median(glue).toFixed(2)} µs per call (rounds: ${glue.map((value) => value.toFixed(2)).join(', ')})`)
  await app.close()
}

console.log(`${POOL} distinct tokens per variant, ${ROUNDS} rounds, medians; verifyCacheMax ${verifyCacheMax ?? 'default (10000)'}`)
await variant('HS256', { secret: SECRET }, SECRET, 'HS256')
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
await variant('RS256', { keys: [{ kid: 'rs', algorithm: 'RS256', privateKey: rsa.privateKey }] }, rsa.publicKey.export({ type: 'spki', format: 'pem' }), 'RS256')
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
await variant('ES256', { keys: [{ kid: 'es', algorithm: 'ES256', privateKey: ec.privateKey }] }, ec.publicKey.export({ type: 'spki', format: 'pem' }), 'ES256')
const ed = generateKeyPairSync('ed25519')
await variant('EdDSA', { keys: [{ kid: 'ed', algorithm: 'EdDSA', privateKey: ed.privateKey }] }, ed.publicKey.export({ type: 'spki', format: 'pem' }), 'EdDSA')

// A trusted issuer's RS256 access tokens, its JWKS served on loopback (fetched once, before the rounds): the glue of
// the resource-server path (header and `iss` look, key lookup, the RFC 9068 checks beyond fast-jwt's).
const idp = generateKeyPairSync('rsa', { modulusLength: 2048 })
const jwk = { ...idp.publicKey.export({ format: 'jwk' }), kid: 'idp-1', alg: 'RS256', use: 'sig' }
const jwksServer = createServer((request, response) => response.end(JSON.stringify({ keys: [jwk] })))
await new Promise((resolve) => jwksServer.listen(0, '127.0.0.1', resolve))
const issuer = 'https://idp.bench'
const sign = createSigner({ key: idp.privateKey.export({ type: 'pkcs8', format: 'pem' }), algorithm: 'RS256', kid: 'idp-1', header: { typ: 'at+jwt' } })
const now = Math.floor(Date.now() / 1000)
await variant('trusted issuer RS256', {
  secret: SECRET,
  trustedIssuers: [{ issuer, jwksUri: `http://127.0.0.1:${jwksServer.address().port}/certs`, audience: 'api', algorithms: ['RS256'] }]
}, idp.publicKey.export({ type: 'spki', format: 'pem' }), 'RS256',
(i) => sign({ sub: '1', iss: issuer, aud: 'api', iat: now, exp: now + 3600, jti: String(i) }),
{ allowedIss: issuer, allowedAud: 'api', requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'] })
jwksServer.close()
