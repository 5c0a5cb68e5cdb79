import Fastify from 'fastify'
import jwtAuth from '../dist/esm/index.js'
async function server (withPlugin) {
  const app = Fastify()
  if (withPlugin) await app.register(jwtAuth, { secret: 'bench-secret-bench-secret-bench-secret!!' })
  app.get('/bare', async () => ({ ok: true }))
  await app.ready()
  return app
}
const a = await server(false); const b = await server(true)
async function run (app, n) { const t0 = process.hrtime.bigint(); for (let i = 0; i < n; i++) await app.inject('/bare'); return Number(process.hrtime.bigint() - t0) / n }
await run(a, 5000); await run(b, 5000)
const ra = [], rb = []
for (let i = 0; i < 10; i++) { ra.push(await run(a, 10000)); rb.push(await run(b, 10000)) }
const med = (v) => [...v].sort((x, y) => x - y)[5]
console.log('ns per inject: without', Math.round(med(ra)), 'with', Math.round(med(rb)), 'added', Math.round(med(rb) - med(ra)))
