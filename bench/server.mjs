// The benchmark server: every variant in its own encapsulated context, all
// answering the same small JSON. Prints { port, tokens } as one JSON line.
import { generateKeyPairSync } from 'node:crypto'
import fastifyJwt from '@fastify/jwt'
import express from 'express'
import { createVerifier } from 'fast-jwt'
import Fastify from 'fastify'
import passport from 'passport'
import { ExtractJwt, Strategy } from 'passport-jwt'
import jwtAuth, { memoryStore } from '../dist/esm/index.js'
import { redisStore } from '../dist/esm/redis.js'

const SECRET = 'bench-secret-bench-secret-bench-secret!!'
// More than the verify cache holds: every request misses. BENCH_SMOKE=1 (the test suite's check that it runs): a few.
const POOL = Number(process.env.POOL ?? (process.env.BENCH_SMOKE === '1' ? 100 : 15000))
const redisUrl = process.env.REDIS_URL
const body = { hello: 'world' }
const users = new Map([['1', { id: 1, roles: ['user'] }]])
const findById = async (id) => users.get(id) ?? null

const app = Fastify({ logger: false })
const tokens = {}

app.get('/bare', async () => body)
// The same bare route, sent the same Authorization header as the authenticated routes: what parsing a ~300-byte
// header costs on its own, so the authenticated routes can also be compared with a request of the same size.
app.get('/bare-token', async () => body)
// And with an empty async onRequest hook: what Fastify's hook dispatch costs, before any work of ours.
app.get('/noop-hook', { onRequest: async () => {} }, async () => body)

async function variant (name, options) {
  await app.register(async (context) => {
    await context.register(jwtAuth, { users: { findById }, ...options })
    context.get(`/${name}`, { onRequest: context.authenticate }, async () => body)
    const pair = await context.jwtAuth.issue({ id: 1 })
    tokens[name] = [pair.accessToken]
    if (name.endsWith('-pool')) {
      // Distinct valid tokens: every request is a verify-cache miss.
      tokens[name] = await Promise.all(Array.from({ length: POOL }, async () => (await context.jwtAuth.issue({ id: 1 })).accessToken))
    }
  })
}

const key = (algorithm, options) => ({ keys: [{ kid: algorithm, algorithm, privateKey: generateKeyPairSync(...options).privateKey }] })
const rsaPool = key('RS256', ['rsa', { modulusLength: 2048 }])
await variant('memory', { secret: SECRET, store: memoryStore() })
await variant('memory-pool', { secret: SECRET, store: memoryStore() })
if (redisUrl !== undefined) {
  // The default: revocation answered by the local mirror once it is in sync.
  const store = redisStore({ url: redisUrl, keyPrefix: 'bench:' })
  await variant('redis', { secret: SECRET, store })
  while (!store.mirrorSynced) await new Promise((resolve) => setTimeout(resolve, 10))
  // Without the mirror: a round trip to Redis on every request, for comparison.
  await variant('redis-no-mirror', { secret: SECRET, store: redisStore({ url: redisUrl, keyPrefix: 'bench:', mirror: false }) })
}
await variant('rs256', { ...key('RS256', ['rsa', { modulusLength: 2048 }]), store: memoryStore() })
await variant('rs256-pool', { ...rsaPool, store: memoryStore() })

// fast-jwt's own verify alone (no cache) on the same token pools: the floor under the pool variants.
async function rawVerify (name, verify) {
  await app.register(async (context) => {
    context.get(`/${name}`, { onRequest: async (request) => { verify(request.headers.authorization.slice(7)) } }, async () => body)
  })
}
await rawVerify('fast-jwt-pool', createVerifier({ key: SECRET, algorithms: ['HS256'] }))
tokens['fast-jwt-pool'] = tokens['memory-pool']
const rsaPublicPem = (await import('node:crypto')).createPublicKey(rsaPool.keys[0].privateKey).export({ type: 'spki', format: 'pem' })
await rawVerify('fast-jwt-rs256-pool', createVerifier({ key: rsaPublicPem, algorithms: ['RS256'] }))
tokens['fast-jwt-rs256-pool'] = tokens['rs256-pool']
await variant('es256', { ...key('ES256', ['ec', { namedCurve: 'P-256' }]), store: memoryStore() })
await variant('eddsa', { ...key('EdDSA', ['ed25519']), store: memoryStore() })

// The peer baseline: @fastify/jwt's request.jwtVerify() with its verify cache on.
await app.register(async (context) => {
  await context.register(fastifyJwt, { secret: SECRET, verify: { cache: true } })
  context.get('/fastify-jwt', { onRequest: async (request) => { await request.jwtVerify() } }, async () => body)
  tokens['fastify-jwt'] = [context.jwt.sign({ sub: '1' }, { expiresIn: '1h' })]
})

// The outside reference: express + passport-jwt, in the same process, on its own port.
passport.use(new Strategy({ jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: SECRET, algorithms: ['HS256'] },
  (payload, done) => { findById(payload.sub).then((user) => done(null, user ?? false), done) }))
const reference = express()
reference.use(passport.initialize())
reference.get('/express-bare', (request, response) => { response.json(body) })
reference.get('/express-passport', passport.authenticate('jwt', { session: false }), (request, response) => { response.json(body) })
const expressServer = reference.listen(0, '127.0.0.1')
await new Promise((resolve) => expressServer.once('listening', resolve))
tokens['express-bare'] = []
tokens['express-passport'] = tokens['fastify-jwt']

tokens['bare-token'] = tokens.memory
tokens['noop-hook'] = tokens.memory

await app.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(JSON.stringify({ port: app.server.address().port, expressPort: expressServer.address().port, tokens }) + '\n')
process.on('SIGTERM', async () => { expressServer.close(); await app.close(); process.exit(0) })
