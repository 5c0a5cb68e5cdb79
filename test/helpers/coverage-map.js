// Coverage is measured on lib/ only (not on tests, helpers or dist/). The
// package and browser tests run the built dist/ (the browser test through the
// example server), whose source maps point back into lib/ with another line
// structure; the example-start and example-database tests run lib/ in child processes through tsx,
// whose transform maps it differently again; the docs and walk-through tests run
// the built package and the example in child processes. They check packaging,
// the browser, the examples and the docs, and count for nothing here.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const libFiles = readdirSync('lib', { recursive: true })
  .filter((file) => String(file).endsWith('.ts'))
  .map((file) => join('lib', String(file)))

export default function coverageMap (testFile) {
  return /(package|browser|example-start|example-database|example-oidc|docs|walkthrough)\.test\.ts$/.test(testFile) ? null : libFiles
}
