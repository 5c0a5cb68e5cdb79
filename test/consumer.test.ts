// The issue's done-when: "a consumer project in JS (ESM and CJS) and TS, following only the README, protects a
// route and tests it with the kit", on what a fresh install gets today. The built package (dist/, `npm test`
// builds first) is packed as npm would publish it and installed, with fastify, into one temporary project, with
// the registry's latest version of every dependency (--prefer-online, no lockfile). Then:
// - without ioredis (an optional peer dependency, not installed): the TS flavour compiles (strict, no
//   skipLibCheck), and fastify-jwt-auth/redis fails to load saying to install it;
// - the flavours of test/consumer/ share its node_modules, and their own tests (`node --test`) must pass;
// - with ioredis@latest: the TS flavours (the Redis one imports fastify-jwt-auth/redis) compile against
//   @types/node 22, 24 and 26 in turn (the latest of each, switched in place), and the Redis one runs on a real
//   redis-server.
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { lineIndependentDone, skipped } from './helpers/ci-line.js'
import { startRedis } from './helpers/redis.js'

const require = createRequire(import.meta.url)
const root = fileURLToPath(new URL('..', import.meta.url))
const fixtures = join(root, 'test', 'consumer')
const FLAVOURS = ['esm', 'cjs', 'ts'] as const
const TESTS_PER_FLAVOUR = 3
const TYPES_NODE_MAJORS = [22, 24, 26]
const MISSING_IOREDIS = 'fastify-jwt-auth/redis needs ioredis, an optional peer dependency: npm install ioredis'

// Installs from the registry, and compiles, one after the other.
t.setTimeout(600_000)

// The child processes get neither tap's loader and coverage nor the npm context of an outer `npm test`.
const env: NodeJS.ProcessEnv = { ...process.env }
for (const name of Object.keys(env)) {
  if (/^(NODE_OPTIONS|NODE_V8_COVERAGE|JWT_SECRET|REDIS_URL|npm_config_local_prefix|npm_package_.*|npm_lifecycle_.*)$/
    .test(name)) {
    delete env[name]
  }
}

interface Run { code: number | null, stdout: string, stderr: string }

function run (command: string, args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, {
      cwd, env: { ...env, ...extraEnv }, maxBuffer: 16 * 1024 * 1024, shell: process.platform === 'win32'
    }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null
      resolve({ code, stdout, stderr: error !== null && code === null ? `${String(error)}\n${stderr}` : stderr })
    })
  })
}

const describe = (what: string, { code, stdout, stderr }: Run) => `${what} exited with ${code}\n${stdout}\n${stderr}`

/** npm install into the project, the latest versions (no lockfile, cached metadata revalidated). */
async function install (dir: string, ...specs: string[]): Promise<void> {
  const result = await run('npm', [
    'install', '--prefer-online', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', ...specs
  ], dir)
  if (result.code !== 0) throw new Error(describe(`npm install ${specs.join(' ')}`, result))
}

/** The repository's tsc on a flavour's tsconfig (strict, skipLibCheck false). */
async function compile (t: Test, dir: string, flavour: string, what: string): Promise<void> {
  const tsc = await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], join(dir, flavour))
  t.equal(tsc.code, 0, `${flavour}: tsc compiles it, ${what}`, { output: tsc.stdout + tsc.stderr })
}

const version = (dir: string, name: string): string =>
  JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version

t.test('a consumer project (ESM, CJS, TS) on the latest dependencies, with and without Redis', async (t) => {
  if (!existsSync(join(root, 'dist', 'esm', 'index.js'))) {
    t.fail('no dist/: run `npm run build` first (npm test does)')
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'fastify-jwt-auth-consumer-'))
  t.teardown(() => {
    if (t.passing()) rmSync(dir, { recursive: true, force: true })
    else console.error(`consumer project kept for a look: ${dir}`)
  })

  // dist/ is built already: no prepack.
  const pack = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], root)
  if (pack.code !== 0) throw new Error(describe('npm pack', pack))
  const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }]

  // One project holds node_modules; the flavours are its subfolders, each with its own package.json ("type").
  writeFileSync(join(dir, 'package.json'), '{ "private": true }\n')
  await install(dir, `./${filename}`, 'fastify', `@types/node@${TYPES_NODE_MAJORS[0]}`)
  t.equal(version(dir, 'fastify-jwt-auth'), require('../package.json').version, 'the packed package is installed')
  t.notOk(existsSync(join(dir, 'node_modules', 'ioredis')), 'a memory-only app installs nothing of Redis')
  const installed = JSON.parse(readFileSync(join(dir, 'node_modules', 'fastify-jwt-auth', 'package.json'), 'utf8'))
  if (installed.exports?.['./testing'] === undefined) {
    t.fail('the package has no fastify-jwt-auth/testing subpath (the kit) in its exports map')
  }
  for (const flavour of [...FLAVOURS, 'redis']) cpSync(join(fixtures, flavour), join(dir, flavour), { recursive: true })

  // Without ioredis: the main entry's types need none of it, and the Redis entry says what to install.
  await compile(t, dir, 'ts', `@types/node ${version(dir, '@types/node')}, without ioredis`)
  const esm = "import('fastify-jwt-auth/redis').then(() => console.log('loaded'), (error) => console.log(error.message))"
  const cjs = "try { require('fastify-jwt-auth/redis'); console.log('loaded') } catch (error) { console.log(error.message) }"
  for (const [type, source] of [['module', esm], ['commonjs', cjs]] as const) {
    const result = await run(process.execPath, [`--input-type=${type}`, '-e', source], dir)
    t.equal(result.stdout.trim(), MISSING_IOREDIS, `${type}: fastify-jwt-auth/redis without ioredis says to install it`)
  }

  // The compiled test, named: Node 22.18 and later would also find app.test.mts and run it stripped of its types.
  const files = { esm: [], cjs: [], ts: ['dist/app.test.mjs'] }
  const results = await Promise.all(FLAVOURS.map((flavour) =>
    run(process.execPath, ['--test', '--test-reporter=tap', ...files[flavour]], join(dir, flavour))))
  FLAVOURS.forEach((flavour, index) => {
    const result = results[index]!
    t.equal(result.code, 0, `${flavour}: node --test passes`, { output: result.stdout + result.stderr })
    t.match(result.stdout, new RegExp(`^# pass ${TESTS_PER_FLAVOUR}$`, 'm'), `${flavour}: all its tests ran`)
    t.match(result.stdout, /^# fail 0$/m)
  })

  // With ioredis, as the README says for Redis: every TS flavour against each @types/node, switched in place.
  await install(dir, 'ioredis@latest')
  // The matrix is type checking only; the Redis flavour's test below needs its first compile on every line.
  const majors = lineIndependentDone ? TYPES_NODE_MAJORS.slice(0, 1) : TYPES_NODE_MAJORS
  if (lineIndependentDone) skipped(t, `tsc against @types/node ${TYPES_NODE_MAJORS.slice(1).join(' and ')}`)
  for (const major of majors) {
    if (major !== TYPES_NODE_MAJORS[0]) await install(dir, `@types/node@${major}`)
    const what = `@types/node ${version(dir, '@types/node')}, ioredis ${version(dir, 'ioredis')}`
    await Promise.all([compile(t, dir, 'ts', what), compile(t, dir, 'redis', what)])
  }
  const server = await startRedis()
  t.teardown(() => server.stop())
  const redis = await run(process.execPath, ['--test', '--test-reporter=tap', 'dist/app.test.mjs'], join(dir, 'redis'), {
    REDIS_URL: server.url
  })
  t.equal(redis.code, 0, 'redis: node --test passes', { output: redis.stdout + redis.stderr })
  t.match(redis.stdout, /^# pass 2$/m, 'redis: all its tests ran')
})
