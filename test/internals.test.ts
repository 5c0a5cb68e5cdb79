// Defensive paths that a supported Fastify never takes.
import t from 'tap'
import { contextHooks, requiredBy } from '../lib/routes/swagger.js'

t.test('contextHooks: an object without Fastify hooks has none', async (t) => {
  t.equal(contextHooks({}), undefined)
  t.equal(contextHooks(Object.create(null)), undefined)
})

t.test('the Redis subscription on a Cluster node retries a few times, then gives up (to start over elsewhere)', async (t) => {
  const { clusterSubscriberRetry } = await import('../lib/stores/redis.js')
  t.same([1, 2, 5, 6, 60].map(clusterSubscriberRetry), [100, 200, 500, null, null])
})

t.test('requiredBy: a route whose context hooks cannot be found requires what its own hooks require', async (t) => {
  t.same(requiredBy({ method: 'GET', url: '/', handler: async () => {} }, undefined), [])
})
