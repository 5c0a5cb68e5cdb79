// Defensive paths that a supported Fastify never takes.
import t from 'tap'
import { contextHooks } from '../lib/routes/swagger.js'

t.test('contextHooks: an object without Fastify hooks has none', async (t) => {
  t.equal(contextHooks({}), undefined)
  t.equal(contextHooks(Object.create(null)), undefined)
})
