// Builds dist/esm (ES modules) and dist/cjs (CommonJS) from lib/ with tsc.
// The CJS entry (main.cjs) follows the @fastify/* convention: require() returns
// the plugin itself, which also carries `default` and every named export.
import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

rmSync('dist', { recursive: true, force: true })
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.cjs.json'], { stdio: 'inherit' })
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n')
writeFileSync('dist/cjs/main.cjs', `'use strict'
const mod = require('./index.js')
module.exports = Object.assign(mod.default, mod)
`)
// fastify-jwt-auth/redis, for require().
writeFileSync('dist/cjs/redis.cjs', `'use strict'
module.exports = require('./redis.js')
`)

// The main entry's redisStore: loads the Redis module (and ioredis) on its first
// call, so that importing the plugin does not. From source, lib/index.ts
// re-exports it from ./redis.js at once (tests cannot require() TypeScript);
// in dist/ that re-export is pointed at this shim. A shim per build, since
// import.meta (for require() in ES modules) does not compile to CommonJS.
const lazyRedis = `let redis

function redisStore (options) {
  try {
    redis ??= require('./redis.js')
  } catch (error) {
    // Node before 20.19, and 22 before 22.12, cannot require() an ES module.
    if (error?.code !== 'ERR_REQUIRE_ESM') throw error
    const message = "redisStore: this Node cannot load it on demand; import it from 'fastify-jwt-auth/redis'"
    throw new Error(message, { cause: error })
  }
  return redis.redisStore(options)
}
`
writeFileSync('dist/esm/lazy-redis.js', `import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
${lazyRedis}
export { redisStore }
`)
writeFileSync('dist/cjs/lazy-redis.js', `'use strict'
${lazyRedis}
exports.redisStore = redisStore
`)
const reexports = [['dist/esm/index.js', "from './redis.js'"], ['dist/cjs/index.js', 'require("./redis.js")']]
for (const [file, from] of reexports) {
  const code = readFileSync(file, 'utf8')
  // Exactly one: the redisStore re-export. Anything else means lib/index.ts changed shape.
  if (code.split(from).length !== 2) throw new Error(`build: expected one ${from} in ${file}`)
  writeFileSync(file, code.replace(from, from.replace('./redis.js', './lazy-redis.js')))
}
