// The issue's done-when: "a consumer project in JS (ESM and CJS) and TS, following only the README, protects a
// route and tests it with the kit". The built package (dist/, `npm test` builds first) is packed as npm would publish
// it and installed, with fastify, into one temporary project (offline first: the cache is warm after `npm ci`);
// the three flavours of test/consumer/ share its node_modules, and their own tests (`node --test`) must pass.
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const require = createRequire(import.meta.url)
const root = fileURLToPath(new URL('..', import.meta.url))
const fixtures = join(root, 'test', 'consumer')
const FLAVOURS = ['esm', 'cjs', 'ts'] as const
const TESTS_PER_FLAVOUR = 3

// The child processes get neither tap's loader and coverage nor the npm context of an outer `npm test`.
const env: NodeJS.ProcessEnv = { ...process.env }
for (const name of Object.keys(env)) {
  if (/^(NODE_OPTIONS|NODE_V8_COVERAGE|JWT_SECRET|npm_config_local_prefix|npm_package_.*|npm_lifecycle_.*)$/.test(name)) {
    delete env[name]
  }
}

interface Run { code: number | null, stdout: string, stderr: string }

function run (command: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, maxBuffer: 16 * 1024 * 1024, shell: process.platform === 'win32' },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null
        resolve({ code, stdout, stderr: error !== null && code === null ? `${String(error)}\n${stderr}` : stderr })
      })
  })
}

const describe = (what: string, { code, stdout, stderr }: Run) => `${what} exited with ${code}\n${stdout}\n${stderr}`

t.test('a consumer project (ESM, CJS, TS) protects its routes and tests them with the kit', async (t) => {
  if (!existsSync(join(root, 'dist', 'esm', 'index.js'))) {
    t.fail('no dist/: run `npm run build` first (npm test does)')
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'fastify-jwt-auth-consumer-'))
  t.teardown(() => {
    if (t.passing()) rmSync(dir, { recursive: true, force: true })
    else console.error(`consumer project kept for a look: ${dir}`)
  })

  const pack = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], root)
  if (pack.code !== 0) throw new Error(describe('npm pack', pack))
  const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }]

  // One project holds node_modules; the flavours are its subfolders, each with its own package.json ("type").
  writeFileSync(join(dir, 'package.json'), '{ "private": true }\n')
  // @types/node for the TS flavour: the repository's own version, which the warm cache holds.
  const typesNode = `@types/node@${require('@types/node/package.json').version}`
  const install = await run('npm', [
    'install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', `./${filename}`, 'fastify', typesNode
  ], dir)
  if (install.code !== 0) throw new Error(describe('npm install', install))
  const installed = JSON.parse(readFileSync(join(dir, 'node_modules', 'fastify-jwt-auth', 'package.json'), 'utf8'))
  t.equal(installed.version, require('../package.json').version, 'the packed package is installed')
  if (installed.exports?.['./testing'] === undefined) {
    t.fail('the package has no fastify-jwt-auth/testing subpath (the kit) in its exports map')
  }

  for (const flavour of FLAVOURS) cpSync(join(fixtures, flavour), join(dir, flavour), { recursive: true })
  // The TS flavour compiles with the repository's typescript (strict, nodenext) before node runs it.
  const tsc = await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], join(dir, 'ts'))
  t.equal(tsc.code, 0, 'ts: tsc compiles the app and its test', { output: tsc.stdout + tsc.stderr })

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
})
