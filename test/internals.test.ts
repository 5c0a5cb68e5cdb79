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

t.test('the Redis store names an address by host and port only, and scrubs credentials from connection errors', async (t) => {
  const { describeAddress, describeError, nodeAddress } = await import('../lib/stores/redis-connection.js')
  const nodes = [7000, '7001', '10.0.0.1:7002', 'redis://user:pw@10.0.0.2:7003', 'cache', { host: '10.0.0.3' }, { port: 7004 }, 'bad host']
  t.same(nodes.map(nodeAddress), [
    'localhost:7000', 'localhost:7001', '10.0.0.1:7002', '10.0.0.2:7003', 'cache:6379', '10.0.0.3:6379', 'localhost:7004',
    'a node given as an unparsable string'
  ])
  const url = (text: string) => describeAddress(undefined as never, { kind: 'url', url: text, parsed: new URL(text) })
  t.equal(url('rediss://user:pw@cache.example'), 'cache.example:6379', 'rediss:// without a port: 6379')
  t.equal(url('redis://:pw@[::1]:6380/2'), '[::1]:6380')
  const error = Object.assign(new Error('Failed to refresh slots cache.'), { lastNodeError: new Error('WRONGPASS for alice pw1') })
  t.equal(describeError(error, ['alice', 'pw1']), 'Failed to refresh slots cache. (WRONGPASS for *** ***)')
  t.equal(describeError(new Error('connect ECONNREFUSED 127.0.0.1:1'), []), 'connect ECONNREFUSED 127.0.0.1:1')
})
