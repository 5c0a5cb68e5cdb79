// What the published package loads (dist/, built by `npm test`): a memory-only app
// loads neither ioredis nor svg-captcha; each loads when its feature is used. The
// testing entry (fastify-jwt-auth/testing) loads none of them, nor argon2.
//
// Every case runs in a fresh node process, as a consumer would: `import` (ESM)
// or `require` (CJS) of 'fastify-jwt-auth' by its name, resolved through the
// exports map (the process runs in the package's directory). ioredis and
// svg-captcha are CommonJS packages, and Node registers every CommonJS module
// it loads in require.cache (Module._cache), whether by require(), by import
// or from a require()d ES module: so one probe serves both builds. The cases
// where a package must be loaded show that the probe sees it.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

const root = fileURLToPath(new URL('..', import.meta.url))

type Build = 'esm' | 'cjs'

// A plain consumer process: without the test runner's TypeScript loader and
// coverage (dist/ maps back to lib/ with another line structure).
const env = { ...process.env }
delete env.NODE_OPTIONS
delete env.NODE_V8_COVERAGE

const PRELUDE: Record<Build, string> = {
  esm: `import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const load = (specifier) => import(specifier)`,
  cjs: 'const load = async (specifier) => require(specifier)'
}

// `body` is the body of an async function returning what the test checks.
function program (build: Build, body: string): string {
  return `${PRELUDE[build]}
const { sep } = require('node:path')
const loaded = (name) => Object.keys(require.cache)
  .some((file) => file.includes(sep + 'node_modules' + sep + name + sep))
async function register (routes) {
  const { default: Fastify } = await load('fastify')
  const auth = await load('fastify-jwt-auth')
  const app = Fastify()
  await app.register(auth.default, {
    secret: 'x'.repeat(32),
    store: auth.memoryStore(),
    users: { findById: async () => null, findByLogin: async () => null },
    routes
  })
  await app.ready()
  await app.close()
  return { ioredis: loaded('ioredis'), svgCaptcha: loaded('svg-captcha') }
}
;(async () => {
${body}
})().then((result) => {
  process.stdout.write(JSON.stringify(result))
  process.exit(0)
}, (error) => {
  console.error(error)
  process.exit(1)
})
`
}

async function run (build: Build, body: string): Promise<unknown> {
  const args = [`--input-type=${build === 'esm' ? 'module' : 'commonjs'}`, '-e', program(build, body)]
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: root, env, timeout: 30_000 })
  return JSON.parse(stdout)
}

for (const build of ['esm', 'cjs'] as const) {
  t.test(`${build}: a memory-only app loads neither ioredis nor svg-captcha`, async (t) => {
    t.same(await run(build, 'return register({ captcha: false })'), { ioredis: false, svgCaptcha: false })
  })

  t.test(`${build}: a captcha generator of the app's own does not load svg-captcha`, async (t) => {
    const body = "return register({ captcha: { create: () => ({ text: 'abcde', svg: '<svg/>' }) } })"
    t.same(await run(build, body), { ioredis: false, svgCaptcha: false })
  })

  t.test(`${build}: the default captcha loads svg-captcha`, async (t) => {
    t.same(await run(build, 'return register({})'), { ioredis: false, svgCaptcha: true })
  })

  t.test(`${build}: the main entry has nothing of Redis (fastify-jwt-auth/redis has the store)`, async (t) => {
    const result = await run(build, `
      const auth = await load('fastify-jwt-auth')
      return { redis: Object.keys(auth).filter((name) => /redis|fail_fast/i.test(name)), ioredis: loaded('ioredis') }`)
    t.same(result, { redis: [], ioredis: false })
  })

  t.test(`${build}: fastify-jwt-auth/redis exports the Redis store`, async (t) => {
    const result = await run(build, `
      const redis = await load('fastify-jwt-auth/redis')
      const names = ['redisStore', 'RedisStore', 'FAIL_FAST_OPTIONS']
      const types = Object.fromEntries(names.map((name) => [name, typeof redis[name]]))
      return { types, ioredis: loaded('ioredis') }`)
    t.same(result, {
      types: { redisStore: 'function', RedisStore: 'function', FAIL_FAST_OPTIONS: 'object' },
      ioredis: true
    })
  })

  t.test(`${build}: fastify-jwt-auth/testing loads neither argon2, ioredis nor svg-captcha`, async (t) => {
    // The plugin from the other build: the kit only uses the app's decorator (and a registry symbol for cookies).
    const other = build === 'esm' ? "require('fastify-jwt-auth')" : "(await import('fastify-jwt-auth')).default"
    const result = await run(build, `
      const kit = await load('fastify-jwt-auth/testing')
      const names = Object.keys(kit).sort()
      const before = { argon2: loaded('@node-rs/argon2'), ioredis: loaded('ioredis'), svgCaptcha: loaded('svg-captcha') }
      const { default: Fastify } = await load('fastify')
      const app = Fastify()
      await app.register(${other}, {
        secret: 'x'.repeat(32), cookies: { accessToken: true }, users: kit.fakeUsers([{ id: 1 }])
      })
      app.post('/', { onRequest: app.authenticate }, async (request) => request.user)
      const bearer = await app.inject({ method: 'POST', url: '/', headers: await kit.authHeaders(app, { id: 1 }) })
      const cookies = await app.inject({ method: 'POST', url: '/', headers: await kit.authCookies(app, { id: 1 }) })
      await app.close()
      return { names, before, argon2: loaded('@node-rs/argon2'), bearer: bearer.json(), cookies: cookies.json() }`)
    t.same(result, {
      names: ['authCookies', 'authHeaders', 'checkStore', 'fakeUsers', 'storeConformance', 'totpCode', 'usersConformance'],
      before: { argon2: false, ioredis: false, svgCaptcha: false },
      argon2: true,
      bearer: { id: 1 },
      cookies: { id: 1 }
    })
  })
}
