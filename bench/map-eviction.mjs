// node bench/map-eviction.mjs: why the verify cache drops whole generations instead of deleting the oldest key.
// BENCH_SMOKE=1: a few iterations only, so the test suite can check that the script still runs.
const N = 10000; const OPS = process.env.BENCH_SMOKE === '1' ? 3000 : 300000
const keys = Array.from({ length: 15000 }, (_, i) => 'eyJhbGciOiJIUzI1NiJ9.' + 'x'.repeat(200) + i)
for (const variant of ['front-delete+insert', 'plain get miss']) {
  const m = new Map()
  for (let i = 0; i < N; i++) m.set(keys[i], { i })
  const t0 = process.hrtime.bigint()
  for (let j = 0; j < OPS; j++) {
    const k = keys[(N + j) % keys.length]
    if (variant === 'plain get miss') { m.get(k + '!'); continue }
    if (m.get(k) === undefined) { m.delete(m.keys().next().value); m.set(k, { j }) }
  }
  console.log(variant, (Number(process.hrtime.bigint() - t0) / OPS).toFixed(0), 'ns/op')
}
