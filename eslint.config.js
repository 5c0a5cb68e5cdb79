import neostandard from 'neostandard'

export default [
  // .cts: the CommonJS type tests (types/cjs).
  ...neostandard({ ts: true, filesTs: ['**/*.cts'], ignores: ['dist/**', 'coverage/**', '.tap/**', 'node_modules/**'] })
]
