// Builds dist/esm (ES modules) and dist/cjs (CommonJS) from lib/ with tsc.
// The CJS entry (main.cjs) follows the @fastify/* convention: require() returns
// the plugin itself, which also carries `default` and every named export; its
// declarations (main.d.cts) say so with `export =` (writeCjsDeclarations, below).
// No source maps: tsc's ES2022 output is the source minus its types (stack traces
// read as well), and the maps would point at lib/, which is not published.
import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, sep } from 'node:path'

const require = createRequire(import.meta.url)
const tsc = require.resolve('typescript/bin/tsc')
const ts = require('typescript')

rmSync('dist', { recursive: true, force: true })
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.cjs.json'], { stdio: 'inherit' })
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n')
writeFileSync('dist/cjs/main.cjs', `'use strict'
const mod = require('./index.js')
module.exports = Object.assign(mod.default, mod)
`)
writeCjsDeclarations('dist/cjs/index.d.ts', './index.js')
// fastify-jwt-auth/redis and fastify-jwt-auth/testing, for require().
for (const entry of ['redis', 'testing']) {
  writeFileSync(`dist/cjs/${entry}.cjs`, `'use strict'
module.exports = require('./${entry}.js')
`)
}

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

// The declarations of main.cjs, generated from those of its module (dist/cjs/index.d.ts), so that a new export
// needs no edit here: `export =` the plugin, merged with a namespace holding every export of index.d.ts by alias
// (values and types), `default` among them, as main.cjs does at run time. Without it, TypeScript sees the
// ES module shape (`export default`) for a require(): `import jwtAuth = require('fastify-jwt-auth')` fails.
// An alias cannot name a type-only export (`export type { X }`, `export type *`): those are aliased from the
// module that declares them (interfaces stay augmentable), or, for a class exported as a type only, named by
// a type alias (no value: main.cjs does not have it). The result is type-checked here.
function writeCjsDeclarations (file, specifier) {
  const dir = dirname(file)
  const options = { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, types: ['node'] }
  const program = ts.createProgram([file], options)
  const checker = program.getTypeChecker()
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)))
  const names = exports.map((symbol) => symbol.name).filter((name) => name !== 'default').sort()
  if (!names.includes('jwtAuth')) throw new Error(`build: no jwtAuth in ${file}`)

  const generate = (typeOnly) => {
    const modules = new Map([[specifier, 'mod']])
    const members = names.map((name) => {
      if (!typeOnly.has(name)) return `  export import ${name} = mod.${name}`
      let symbol = exports.find((each) => each.name === name)
      if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol)
      const declaration = symbol.declarations?.[0]
      const path = relative(dir, declaration.getSourceFile().fileName).split(sep).join('/')
      const from = './' + path.replace(/\.d\.ts$/, '.js')
      if (!modules.has(from)) modules.set(from, `m${modules.size}`)
      if (!(symbol.flags & ts.SymbolFlags.Value)) return `  export import ${name} = ${modules.get(from)}.${symbol.name}`
      if (declaration.typeParameters) throw new Error(`build: ${name} is a generic class exported as a type only`)
      return `  export type ${name} = ${modules.get(from)}.${symbol.name}`
    })
    return `// Generated by scripts/build.js: what require('fastify-jwt-auth') returns (main.cjs).
${[...modules].map(([from, local]) => `import * as ${local} from '${from}'`).join('\n')}

type Plugin = typeof mod.default

declare function fastifyJwtAuth (...args: Parameters<Plugin>): ReturnType<Plugin>

declare namespace fastifyJwtAuth {
${members.join('\n')}
  export { jwtAuth as default }
}

export = fastifyJwtAuth
`
  }

  const out = join(dir, 'main.d.cts')
  const check = (code) => {
    writeFileSync(out, code)
    const program = ts.createProgram([out], options)
    return ts.getPreEmitDiagnostics(program, program.getSourceFile(out))
  }
  // First all by alias: TypeScript names the type-only exports (TS1379, TS1380).
  const typeOnly = new Set()
  for (const diagnostic of check(generate(typeOnly))) {
    if (diagnostic.code !== 1379 && diagnostic.code !== 1380) continue
    const line = diagnostic.file.text.slice(0, diagnostic.start).split('\n').at(-1)
    typeOnly.add(/export import (\w+) =/.exec(line)[1])
  }
  const diagnostics = check(generate(typeOnly))
  if (diagnostics.length > 0) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => '\n' }
    throw new Error(`build: ${out}\n${ts.formatDiagnostics(diagnostics, host)}`)
  }
}
