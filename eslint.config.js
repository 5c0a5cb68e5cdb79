import neostandard from 'neostandard'

export default [
  // .cts: the CommonJS type tests (types/cjs); .mts: the consumer project's TypeScript test (test/consumer/ts).
  ...neostandard({ ts: true, filesTs: ['**/*.cts', '**/*.mts'], ignores: ['dist/**', 'coverage/**', '.tap/**', 'node_modules/**'] })
]
