// Builds dist/esm (ES modules) and dist/cjs (CommonJS) from lib/ with tsc.
// The CJS entry (main.cjs) follows the @fastify/* convention: require() returns
// the plugin itself, which also carries `default` and every named export.
import { execFileSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
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
