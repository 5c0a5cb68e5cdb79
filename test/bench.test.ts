// Every bench script runs in the suite, in its BENCH_SMOKE=1 mode (a few iterations), so that none rots unseen:
// a renamed export, a changed message format or a changed option fails here, not on the next person to measure.
// The figures mean nothing here; `npm run bench` and the scripts themselves measure.
import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { onceAcrossLines } from './helpers/ci-line.js'

const root = fileURLToPath(new URL('..', import.meta.url))
// What each script prints when it ran to its end.
const EXPECTED: Record<string, RegExp> = {
  'durability-cost.mjs': /^\| logout \| 1 \| \d+ \| \d+ \|$/m,
  'failover-memory.mjs': /^after minute 2(, both instances)?: rss [\d.]+ -> [\d.]+ MiB \(-?[\d.]+%/m,
  'hook-cost.mjs': /authenticate beyond the empty hook: memory -?\d+ ns, Redis -?\d+ ns/,
  'login-flood.mjs': /peak rss \d+ MiB/,
  'map-eviction.mjs': /plain get miss \d+ ns\/op/,
  'memory-store.mjs': /after expiry and sweep: \d+ entries/,
  'mirror-memory.mjs': /^2000 markers in the mirror/m,
  'miss-glue.mjs': /distinct tokens per variant/,
  'route-guard.mjs': /the guard beyond the empty hook: -?[\d.]+ ns/,
  'run.mjs': /^\| memory \| \d+ \|/m,
  'users-db.mjs': /findById µs per lookup: SQLite [\d.]+, PostgreSQL [\d.]+[\s\S]*^\| pg-nocache \| \d+ \|/m
}

const env: NodeJS.ProcessEnv = { ...process.env, BENCH_SMOKE: '1' }
for (const name of Object.keys(env)) if (/^(NODE_OPTIONS|NODE_V8_COVERAGE)$/.test(name)) delete env[name]

// Eleven scripts, a few seconds each (the failover ones up to half a minute), longer on a loaded machine than the
// suite's default per-file timeout.
t.setTimeout(360_000)

t.test('every bench script runs to its end in smoke mode', onceAcrossLines(), async (t) => {
  if (!existsSync(join(root, 'dist', 'esm', 'index.js'))) {
    t.fail('no dist/: run `npm run build` first (npm test does)')
    return
  }
  const scripts = readdirSync(join(root, 'bench')).filter((file) => file.endsWith('.mjs') && file !== 'server.mjs')
  t.same(scripts.sort(), Object.keys(EXPECTED).sort(), 'each script has its expected output here (server.mjs is run.mjs\'s)')
  for (const script of scripts) {
    const { code, stdout, stderr } = await new Promise<{ code: number | null, stdout: string, stderr: string }>((resolve) => {
      execFile(process.execPath, ['--expose-gc', join('bench', script)], { cwd: root, env, timeout: 120_000 },
        (error, stdout, stderr) => { resolve({ code: error === null ? 0 : (error.code as number | null) ?? null, stdout, stderr }) })
    })
    t.equal(code, 0, `${script} exits 0`, { stderr })
    t.match(stdout, EXPECTED[script] ?? /$^/, `${script} prints its result`)
  }
})
