// Coverage is measured on lib/ only (not on tests, helpers or dist/). The
// package and browser tests run the built dist/ (the browser test through the
// example server), whose source maps point back into lib/ with another line
// structure: they check packaging and the browser, and count for nothing here.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const libFiles = readdirSync('lib', { recursive: true })
  .filter((file) => String(file).endsWith('.ts'))
  .map((file) => join('lib', String(file)))

export default function coverageMap (testFile) {
  return /(package|browser)\.test\.ts$/.test(testFile) ? null : libFiles
}
