// Coverage is measured on lib/ only (not on tests, helpers or dist/).
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const libFiles = readdirSync('lib', { recursive: true })
  .filter((file) => String(file).endsWith('.ts'))
  .map((file) => join('lib', String(file)))

export default function coverageMap () {
  return libFiles
}
