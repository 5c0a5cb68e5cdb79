import autocannon from 'autocannon'
import Fastify from 'fastify'
import jwtAuth from '../dist/esm/index.js'
async function server (withPlugin) {
  const app = Fastify()
  if (withPlugin) await app.register(jwtAuth, { secret: 'bench-secret-bench-secret-bench-secret!!' })
  app.get('/bare', async () => ({ ok: true }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}
const a = await server(false); const b = await server(true)
const run = (app) => new Promise((resolve, reject) => autocannon({ url: `http://127.0.0.1:${app.server.address().port}/bare`, connections: 50, pipelining: 10, duration: 3 }, (e, r) => e ? reject(e) : resolve(r.requests.average)))
await run(a); await run(b)
const ra = [], rb = []
for (let i = 0; i < 6; i++) { if (i % 2) { ra.push(await run(a)); rb.push(await run(b)) } else { rb.push(await run(b)); ra.push(await run(a)) } }
const med = (v) => [...v].sort((x, y) => x - y)[3]
console.log('without plugin', ra.map(Math.round), 'with plugin', rb.map(Math.round))
console.log('median ratio with/without', (med(rb) / med(ra)).toFixed(3), 'µs added', ((1 / med(rb) - 1 / med(ra)) * 1e6).toFixed(3))
await a.close(); await b.close()
