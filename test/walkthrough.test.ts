// The walk-through of docs/getting-started.md, end to end as a reader runs it: `npm run example` in one terminal, the
// `sh walkthrough` block as printed in another (bash, curl, node), answering its prompts with what the server's log
// shows: each captcha's answer (logged by the example, never by the library), the reset link's token and dana's
// TOTP secret (logged once, when she is seeded).
// Every step must answer the status the script expects, in order, and the script must reach its end.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { childEnv, startExample, stop } from './helpers/example-server.js'
import { parse } from './helpers/markdown.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const PAGE = 'docs/getting-started.md'
const LOG_DEADLINE_MS = 10_000

const [walkthrough, ...others] = parse(root, PAGE).blocks.filter((block) => block.words.includes('walkthrough'))

async function fromLog (output: () => string, pattern: RegExp, nth: number): Promise<string> {
  const started = performance.now()
  for (;;) {
    const found = [...output().matchAll(pattern)]
    if (found.length > nth) return found[nth]![1]!
    if (performance.now() - started > LOG_DEADLINE_MS) throw new Error(`no ${pattern} #${nth + 1} in the log:\n${output()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

t.test('the walk-through runs as printed against npm run example, and stops on a failure', async (t) => {
  t.ok(walkthrough, `${PAGE} has a walk-through block`)
  t.equal(others.length, 0, 'and only one')
  const script = walkthrough!.code
  const expected = [...script.matchAll(/^step '([^']+)' (\d{3})/gm)].map((match) => `${match[1]}: ${match[2]}`)
  t.ok(expected.length >= 8, `${expected.length} steps`)

  const { base, output } = await startExample(t, 'example', { logLevel: 'info' })
  const cwd = mkdtempSync(join(tmpdir(), 'fastify-jwt-auth-walkthrough-'))
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }))

  const child = spawn('bash', ['-c', script], {
    cwd, env: childEnv({ BASE: base }), detached: true, stdio: ['pipe', 'pipe', 'pipe']
  })
  t.teardown(() => stop(child))
  let stdout = ''
  let stderr = ''
  let captchas = 0
  let answering = Promise.resolve()
  child.stdout!.on('data', (chunk) => { stdout += chunk })
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk
    // A prompt: answer it from the server's log, as the reader copies it from the other terminal.
    for (const prompt of String(chunk).split('\n').filter((line) => line.endsWith(': '))) {
      answering = answering.then(async () => {
        const answer = /captcha/i.test(prompt)
          ? await fromLog(output, /captcha answer \(example only\): (\w+)/g, captchas++)
          : /TOTP secret/.test(prompt)
            ? await fromLog(output, /TOTP secret of dana \(example only, shown once\): (\w+)/g, 0)
            : await fromLog(output, /password reset for bob: \/reset-password\?token=([\w-]+)/g, 0)
        child.stdin!.write(`${answer}\n`)
      })
    }
  })
  const [code] = await once(child, 'exit') as [number | null]
  await answering
  const printed = stdout.split('\n').map((line) => /^(.+?): (\d{3})\b/.exec(line)).filter((match) => match !== null)
    .map((match) => `${match[1]}: ${match[2]}`)
  t.same(printed, expected, 'each step\'s status, in order', { stdout, stderr })
  t.equal(code, 0, 'the script reaches its end')
  t.match(stdout, /Done/)
  t.notMatch(stdout + output(), /Bearer undefined|"token":"undefined"/, 'no undefined carried forward')
})

t.test('the walk-through stops at the first unexpected status, naming it', async (t) => {
  // A server that is not the example: the first step gets a 404, and nothing after it runs.
  const { base } = await startExample(t, 'example:quickstart')
  const cwd = mkdtempSync(join(tmpdir(), 'fastify-jwt-auth-walkthrough-'))
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }))
  const child = spawn('bash', ['-c', walkthrough!.code], { cwd, env: childEnv({ BASE: base }), stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const [code] = await once(child, 'exit') as [number | null]
  t.not(code, 0, 'a failing exit status')
  t.match(stdout, /^GET \/auth\/captcha: 404/m)
  t.match(stderr, /expected 200/)
  t.equal(stdout.trim().split('\n').length, 1, 'no step after the failure')
})
