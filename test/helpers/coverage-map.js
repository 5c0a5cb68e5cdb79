// Coverage is measured on lib/ only (not on tests, helpers or dist/). The
// package test runs the built dist/, whose source maps point back into lib/
// with another line structure: it checks packaging and counts for nothing here.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const libFiles = readdirSync('lib', { recursive: true })
  .filter((file) => String(file).endsWith('.ts'))
  .map((file) => join('lib', String(file)))

export default function coverageMap (testFile) {
  return testFile.endsWith('package.test.ts') ? null : libFiles
}
