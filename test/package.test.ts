// The published entry points, through the package's own exports map (dist/, built by `npm test`).
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import Fastify from 'fastify'
import t from 'tap'

const require = createRequire(import.meta.url)

t.test('ESM: default and named exports', async (t) => {
  const esm = await import('fastify-jwt-auth')
  t.equal(typeof esm.default, 'function')
  t.equal(esm.default, esm.jwtAuth)
  for (const name of [
    'memoryStore', 'redisStore', 'hashPassword', 'verifyPassword', 'needsRehash',
    'InvalidTokenError', 'StoreUnavailableError', 'InvalidOptionError'
  ]) {
    t.equal(typeof (esm as Record<string, unknown>)[name], 'function', name)
  }
  const app = Fastify()
  await app.register(esm.default, { secret: 'x'.repeat(32) })
  app.get('/', { onRequest: app.authenticate }, async () => 'ok')
  const { accessToken } = await app.jwtAuth.issue({ id: 1 })
  t.equal((await app.inject({ url: '/', headers: { authorization: `Bearer ${accessToken}` } })).statusCode, 200)
  await app.close()
})

t.test('CJS: require() returns the plugin, which also carries default and the named exports', async (t) => {
  const cjs = require('fastify-jwt-auth')
  t.equal(typeof cjs, 'function')
  t.equal(cjs.default, cjs)
  t.equal(cjs.jwtAuth, cjs)
  t.equal(typeof cjs.memoryStore, 'function')
  t.equal(cjs[Symbol.for('plugin-meta')].name, 'fastify-jwt-auth')
  t.equal(cjs[Symbol.for('plugin-meta')].fastify, '5.x')
  const app = Fastify()
  await app.register(cjs, { secret: 'x'.repeat(32) })
  app.get('/', { onRequest: app.authenticate }, async () => 'ok')
  t.equal((await app.inject({ url: '/' })).statusCode, 401)
  await app.close()
})

t.test('fastify-jwt-auth/redis: in the exports map for import and require, with types', async (t) => {
  const { exports } = require('fastify-jwt-auth/package.json')
  t.same(exports['./redis'], {
    import: { types: './dist/esm/redis.d.ts', default: './dist/esm/redis.js' },
    require: { types: './dist/cjs/redis.d.ts', default: './dist/cjs/redis.cjs' }
  })
  const targets = Object.values(exports['./redis'] as Record<string, Record<string, string>>).flatMap(Object.values)
  for (const target of targets) {
    t.ok(existsSync(new URL(`../${target}`, import.meta.url)), `${target} is built`)
  }
  const esm = await import('fastify-jwt-auth/redis')
  const cjs = require('fastify-jwt-auth/redis')
  for (const entry of [esm, cjs]) {
    t.equal(typeof entry.redisStore, 'function')
    t.equal(typeof entry.RedisStore, 'function')
    t.equal(typeof entry.FAIL_FAST_OPTIONS, 'object')
  }
})
