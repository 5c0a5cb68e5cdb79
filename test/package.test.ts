// The published entry points, through the package's own exports map (dist/, built by `npm test`), and what
// the tarball holds (`npm pack --dry-run`: the files npm would publish). `npm test` also runs
// @arethetypeswrong/cli on the packed package (test:package): the types for import and require.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Fastify from 'fastify'
import t from 'tap'

const require = createRequire(import.meta.url)
const root = fileURLToPath(new URL('..', import.meta.url))
const pkg = require('fastify-jwt-auth/package.json')

async function packedFiles (): Promise<Set<string>> {
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root, shell: process.platform === 'win32'
  })
  const [{ files }] = JSON.parse(stdout) as [{ files: Array<{ path: string }> }]
  return new Set(files.map((file) => file.path))
}

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

t.test('fastify-jwt-auth/testing: in the exports map for import and require, with types', async (t) => {
  const { exports, typesVersions } = require('fastify-jwt-auth/package.json')
  t.same(exports['./testing'], {
    import: { types: './dist/esm/testing.d.ts', default: './dist/esm/testing.js' },
    require: { types: './dist/cjs/testing.d.ts', default: './dist/cjs/testing.cjs' }
  })
  t.same(typesVersions['*'].testing, ['./dist/cjs/testing.d.ts'], 'for TypeScript with node10 resolution')
  const esm = await import('fastify-jwt-auth/testing')
  const cjs = require('fastify-jwt-auth/testing')
  for (const entry of [esm, cjs]) {
    for (const name of ['authHeaders', 'authCookies', 'fakeUsers', 'storeConformance', 'checkStore']) {
      t.equal(typeof entry[name], 'function', name)
    }
  }
})

t.test('the pack: every exports target, and no source map pointing at a file it does not hold', async (t) => {
  const files = await packedFiles()
  const targets = (value: unknown): string[] => typeof value === 'string'
    ? [value]
    : Object.values(value as Record<string, unknown>).flatMap(targets)
  for (const target of [pkg.main, pkg.types, ...targets(pkg.exports)]) {
    t.ok(files.has(posix.normalize(target)), `${target} is in the pack`)
  }
  t.equal(pkg.exports['.'].require.types, './dist/cjs/main.d.cts', 'require() has the export = declarations')
  for (const file of files) {
    const text = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8')
    if (file.endsWith('.map')) {
      const { sources = [], sourceRoot = '' } = JSON.parse(text) as { sources?: string[], sourceRoot?: string }
      for (const source of sources) {
        const path = posix.join(posix.dirname(file), sourceRoot, source)
        t.ok(files.has(path), `${file}: its source ${path} is in the pack`)
      }
    }
    const url = /^\/[/*][#@] sourceMappingURL=(?!data:)(\S+?)(?:\s*\*\/)?\s*$/m.exec(text)?.[1]
    if (url !== undefined) {
      const path = posix.join(posix.dirname(file), url)
      t.ok(files.has(path), `${file}: its map ${path} is in the pack`)
    }
  }
})

t.test('fastify is a peer dependency (^5), for the tests a dev dependency; Node >= 22', async (t) => {
  t.same(pkg.peerDependencies, { fastify: '^5' })
  t.notOk(pkg.dependencies.fastify, 'not a dependency: the app brings its own fastify')
  t.ok(pkg.devDependencies.fastify, 'a dev dependency, for the tests')
  t.same(pkg.engines, { node: '>=22' })
})
