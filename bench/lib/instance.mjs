// One app instance of bench/failover-memory.mjs in a process of its own (the default), so that its memory is the
// instance's alone, not the load generator's: the parent drives it over HTTP and asks for samples over IPC.
// argv: the store's connection as JSON, the access and refresh tokens' lifetimes.
import Fastify from 'fastify'
import { memorySample, withPlugin } from './instances.mjs'

const [connection, accessTokenTtl, refreshTokenTtl] = [JSON.parse(process.argv[2]), process.argv[3], process.argv[4]]

const app = Fastify()
if (process.env.BASELINE === '1') baseline(app)
else {
  await withPlugin(app, connection, { accessTokenTtl, refreshTokenTtl })
  // What the load needs of the API, over HTTP: errors answer with the plugin's status and code.
  app.post('/issue', async (request) => app.jwtAuth.issue({ id: request.body.id }))
  app.post('/refresh', async (request) => app.jwtAuth.refresh(request.body.refreshToken))
  app.post('/revoke', async (request) => { await app.jwtAuth.revoke(request.body.token); return { ok: true } })
}
await app.listen({ host: '127.0.0.1', port: 0 })

// BASELINE=1: the same routes without the plugin (tokens shaped as the load reads them, an empty hook): what the
// runtime, Fastify and the HTTP load cost on their own, to compare the instances' memory with.
function baseline (app) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const token = () => `${part({ alg: 'none' })}.${part({ exp: Math.floor(Date.now() / 1000) + 30 })}.`
  const tokens = async () => ({ accessToken: token(), refreshToken: token() })
  app.post('/issue', tokens)
  app.post('/refresh', tokens)
  app.post('/revoke', async () => ({ ok: true }))
  app.get('/me', { onRequest: async () => {} }, async () => ({ ok: true }))
  app.decorate('jwtAuth', { store: {} })
}

// Asked over IPC: a memory sample (after a gc), the store client's status, or to close; each answer names its kind.
const client = app.jwtAuth.store.client ?? { status: 'in memory', hlen: async () => '-' }
process.on('message', async (kind) => {
  const status = client.status
  if (kind === 'sample') process.send({ kind, value: await memorySample(client) })
  else if (kind === 'status') process.send({ kind, value: status })
  else if (kind === 'close') {
    await app.close()
    process.exit(0)
  }
})
process.send({ kind: 'port', value: app.server.address().port })
