// The published entry points, through the package's own exports map (dist/, built by `npm test`), and what
// the tarball holds (`npm pack --dry-run`: the files npm would publish). `npm test` also runs
// @arethetypeswrong/cli on the packed package (test:package): the types for import and require.
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Fastify from 'fastify'
import t from 'tap'
import { onceAcrossLines } from './helpers/ci-line.js'

const require = createRequire(import.meta.url)
const root = fileURLToPath(new URL('..', import.meta.url))
const pkg = require('fastify-jwt-auth/package.json')
// The pack of a fresh clone builds dist/ first (tsc, twice).
t.setTimeout(180_000)

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
    'memoryStore', 'hashPassword', 'verifyPassword', 'needsRehash',
    'InvalidTokenError', 'StoreUnavailableError', 'StoreUnreachableError', 'InvalidOptionError'
  ]) {
    t.equal(typeof (esm as Record<string, unknown>)[name], 'function', name)
  }
  for (const name of ['redisStore', 'RedisStore', 'FAIL_FAST_OPTIONS']) {
    t.notOk(name in esm, `no ${name}: the Redis store is in fastify-jwt-auth/redis only`)
    t.notOk(name in require('fastify-jwt-auth'), 'nor from require()')
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
  // The import entry is written by scripts/build.js (it explains a missing ioredis): the same exports as require's.
  t.same(Object.keys(esm).sort(), Object.keys(cjs).filter((name) => name !== '__esModule').sort())
  t.equal(esm.RedisStore, (await import('../dist/esm/stores/redis.js' as string)).RedisStore, 'one class')
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

t.test('fastify-jwt-auth/kysely: in the exports map for import and require, with types', async (t) => {
  const { exports, typesVersions } = require('fastify-jwt-auth/package.json')
  t.same(exports['./kysely'], {
    import: { types: './dist/esm/kysely.d.ts', default: './dist/esm/kysely.js' },
    require: { types: './dist/cjs/kysely.d.ts', default: './dist/cjs/kysely.cjs' }
  })
  t.same(typesVersions['*'].kysely, ['./dist/cjs/kysely.d.ts'], 'for TypeScript with node10 resolution')
  const esm = await import('fastify-jwt-auth/kysely')
  const cjs = require('fastify-jwt-auth/kysely')
  for (const entry of [esm, cjs]) {
    for (const name of ['kyselyUsers', 'kyselyMigrations', 'migrateToLatest', 'sqliteDialect']) {
      t.equal(typeof entry[name], 'function', name)
    }
    t.same(entry.MIGRATIONS, ['fastify-jwt-auth-0001-users', 'fastify-jwt-auth-0002-mfa', 'fastify-jwt-auth-0003-identities',
      'fastify-jwt-auth-0004-passkeys'])
  }
  // The import entry is written by scripts/build.js (it explains a missing kysely): the same exports as require's.
  t.same(Object.keys(esm).sort(), Object.keys(cjs).filter((name) => name !== '__esModule').sort())
  t.equal(typeof (await import('fastify-jwt-auth/testing')).usersConformance, 'function', 'and usersConformance')
})

t.test('without kysely installed, the main entry and the testing kit work; the kysely entry says what is missing',
  async (t) => {
    // A project whose node_modules holds the package (a copy: a link would resolve kysely from this repository) and
    // every dependency of this repository but kysely.
    const project = mkdtempSync(join(tmpdir(), 'fastify-jwt-auth-no-kysely-'))
    t.teardown(() => rmSync(project, { recursive: true, force: true }))
    const modules = join(project, 'node_modules')
    mkdirSync(modules)
    for (const name of readdirSync(join(root, 'node_modules'))) {
      if (name !== 'kysely' && name !== '.bin') symlinkSync(join(root, 'node_modules', name), join(modules, name))
    }
    const copy = join(modules, 'fastify-jwt-auth')
    mkdirSync(copy)
    cpSync(join(root, 'dist'), join(copy, 'dist'), { recursive: true })
    cpSync(join(root, 'package.json'), join(copy, 'package.json'))
    const script = `
      const { default: Fastify } = await import('fastify')
      const { default: jwtAuth } = await import('fastify-jwt-auth')
      const { fakeUsers, authHeaders } = await import('fastify-jwt-auth/testing')
      const app = Fastify()
      await app.register(jwtAuth, { secret: 'x'.repeat(32), users: fakeUsers([{ id: 1 }]) })
      app.get('/', { onRequest: app.authenticate }, async () => 'ok')
      const reply = await app.inject({ url: '/', headers: await authHeaders(app, { id: 1 }) })
      await app.close()
      const { createRequire } = await import('node:module')
      const failure = async (load) => { try { await load() } catch (error) { return error.message } }
      const kysely = await failure(() => import('fastify-jwt-auth/kysely'))
      const required = await failure(() => createRequire(import.meta.url)('fastify-jwt-auth/kysely'))
      console.log(JSON.stringify({ status: reply.statusCode, kysely, required }))`
    const env = { ...process.env }
    delete env.NODE_OPTIONS
    delete env.NODE_V8_COVERAGE
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script],
      { cwd: project, env })
    const { status, kysely, required } = JSON.parse(stdout) as { status: number, kysely: string, required: string }
    t.equal(status, 200, 'an app and its test, without kysely')
    const message = 'fastify-jwt-auth/kysely needs kysely, an optional peer dependency: npm install kysely'
    t.equal(kysely, message, 'import')
    t.equal(required, message, 'require')
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

t.test('fastify is a peer dependency (^5), ioredis and kysely optional ones, dev dependencies for the tests; Node >= 22',
  async (t) => {
    t.same(pkg.peerDependencies, { fastify: '^5', ioredis: '^6.0.0', kysely: '^0.29.0' })
    t.same(pkg.peerDependenciesMeta, { ioredis: { optional: true }, kysely: { optional: true } },
      'a memory-only app installs nothing of Redis, an app without a database no kysely')
    for (const name of ['fastify', 'ioredis', 'kysely']) {
      t.notOk(pkg.dependencies[name], `${name} is not a dependency: the app brings its own`)
      t.ok(pkg.devDependencies[name], `${name}: a dev dependency, for the tests`)
    }
    t.same(pkg.engines, { node: '>=22' })
  })

t.test('the published declarations name no ioredis type, nor ioredis at all', async (t) => {
  const declarations = [...await packedFiles()].filter((file) => /\.d\.c?ts$/.test(file))
  t.ok(declarations.length > 50, `${declarations.length} declaration files`)
  for (const file of declarations) {
    if (readFileSync(join(root, file), 'utf8').includes('ioredis')) t.fail(`${file} names ioredis`)
  }
})

const PREPACK = 'npm pack on a fresh clone (no dist/) builds first (prepack): the pack holds the code and its types'
t.test(PREPACK, onceAcrossLines(), async (t) => {
  const clone = mkdtempSync(join(tmpdir(), 'fastify-jwt-auth-clone-'))
  t.teardown(() => rmSync(clone, { recursive: true, force: true }))
  // What a clone of this tree would hold once committed: tracked files and new ones that are not ignored.
  const git = await promisify(execFile)('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root, maxBuffer: 16 * 1024 * 1024
  })
  for (const file of git.stdout.split('\0').filter((file) => file !== '' && existsSync(join(root, file)))) {
    mkdirSync(join(clone, dirname(file)), { recursive: true })
    cpSync(join(root, file), join(clone, file))
  }
  t.notOk(existsSync(join(clone, 'dist')), 'no dist/ in the clone')
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'junction')
  // Neither tap's loader and coverage nor the npm context of an outer `npm test` in the build.
  const env = { ...process.env }
  for (const name of Object.keys(env)) {
    if (/^(NODE_OPTIONS|NODE_V8_COVERAGE|npm_.*)$/.test(name)) delete env[name]
  }
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json'], {
    cwd: clone, env, maxBuffer: 16 * 1024 * 1024, shell: process.platform === 'win32'
  })
  const [{ files }] = JSON.parse(stdout) as [{ files: Array<{ path: string }> }]
  const packed = new Set(files.map((file) => file.path))
  for (const file of [
    'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/main.cjs', 'dist/cjs/main.d.cts',
    'dist/esm/redis.js', 'dist/esm/redis.d.ts', 'dist/cjs/redis.cjs', 'dist/cjs/redis.d.ts',
    'dist/esm/testing.js', 'dist/esm/testing.d.ts', 'dist/cjs/testing.cjs', 'dist/cjs/testing.d.ts',
    'dist/esm/kysely.js', 'dist/esm/kysely.d.ts', 'dist/cjs/kysely.cjs', 'dist/cjs/kysely.d.ts'
  ]) {
    t.ok(packed.has(file), `${file} is in the pack`)
  }
})
