// Starting the examples as the README's set-up runs them (`npm run example`, `npm run example:quickstart`): in a
// child process, from source (tsx resolves 'fastify-jwt-auth' to lib/ through examples/tsconfig.json; no build
// first), on a free port. The process group (npm, tsx and node) is killed when the test ends.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

const root = fileURLToPath(new URL('../..', import.meta.url))
const DEADLINE_MS = 45_000

export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/** Ends a child started with `detached: true`, and everything it started. */
export async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const exited = once(child, 'exit')
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name) // the group: npm, tsx and the node it starts
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
    }
  }
  signal('SIGTERM')
  const timer = setTimeout(() => signal('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}

const INHERITED = new RegExp('^(NODE_OPTIONS|NODE_V8_COVERAGE|npm_config_local_prefix|npm_package_.*|npm_lifecycle_.*|' +
  'REDIS_URL|DATABASE_URL|DATABASE_FILE|JWT_SECRET|MFA_ENCRYPTION_KEY|PASSKEY_RP_ID|PASSKEY_ORIGINS)$')

/** The environment of a child: neither tap's loader and coverage, nor an outer npm's, nor the app's settings. */
export function childEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of Object.keys(env)) {
    if (INHERITED.test(name)) delete env[name]
  }
  return { ...env, ...extra }
}

/** Resolves once something answers HTTP on `base` (any status); throws when the child exits or the deadline passes. */
export async function waitForHttp (child: ChildProcess, base: string, what: string, output: () => string): Promise<number> {
  const started = performance.now()
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before answering:\n${output()}`)
    }
    try {
      await fetch(`${base}/`, { signal: AbortSignal.timeout(2_000) })
      return Math.round(performance.now() - started)
    } catch {
      // not listening yet
    }
    if (performance.now() - started > DEADLINE_MS) {
      throw new Error(`${what}: no answer on ${base}/ within ${DEADLINE_MS} ms:\n${output()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** A SQLite file for the example's users in a temporary folder, deleted when `t` ends. */
export function exampleDatabase (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-jwt-auth-example-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'example.sqlite')
}

/**
 * Starts `npm run <script>` on a free port; resolves once it answers, with the base URL, its output so far and a
 * way to stop it. `env`: settings of the app's own; without DATABASE_FILE, the example keeps its users in a
 * temporary folder, not in the checkout's examples/data/.
 */
export async function startExample (
  t: Test, script: string, { logLevel = 'warn', env: settings = {} }: { logLevel?: string, env?: NodeJS.ProcessEnv } = {}
): Promise<{ base: string, output: () => string, stop: () => Promise<void> }> {
  const port = await freePort()
  const env = childEnv({
    HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: logLevel, DATABASE_FILE: exampleDatabase(t), ...settings
  })
  const child = spawn('npm', ['run', '--silent', script], {
    cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], shell: process.platform === 'win32'
  })
  let output = ''
  child.stdout!.on('data', (chunk) => { output += chunk })
  child.stderr!.on('data', (chunk) => { output += chunk })
  t.teardown(() => stop(child))
  const base = `http://127.0.0.1:${port}`
  const took = await waitForHttp(child, base, `npm run ${script}`, () => output)
  t.comment(`npm run ${script}: answered after ${took} ms`)
  return { base, output: () => output, stop: () => stop(child) }
}
