// `npm run example` and `npm run example:quickstart`, as the README's set-up runs them: in a child process, from
// source (tsx resolves 'fastify-jwt-auth' to lib/ through examples/tsconfig.json; no build first), on a free port.
// Each must answer within the deadline; the process group (npm, tsx and node) is killed at the end.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'

const root = fileURLToPath(new URL('..', import.meta.url))
const DEADLINE_MS = 45_000

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

async function stop (child: ChildProcess): Promise<void> {
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

/** Starts `npm run <script>` on a free port; resolves once GET / answers, with the base URL and the output so far. */
async function start (t: Test, script: string): Promise<{ base: string, output: () => string }> {
  const port = await freePort()
  const env: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn' }
  // Not tap's loader and coverage (the child brings its own tsx), and the in-memory store.
  for (const name of ['NODE_OPTIONS', 'NODE_V8_COVERAGE', 'REDIS_URL', 'JWT_SECRET']) delete env[name]
  const child = spawn('npm', ['run', '--silent', script], {
    cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], shell: process.platform === 'win32'
  })
  let output = ''
  child.stdout!.on('data', (chunk) => { output += chunk })
  child.stderr!.on('data', (chunk) => { output += chunk })
  t.teardown(() => stop(child))

  const base = `http://127.0.0.1:${port}`
  const started = performance.now()
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`npm run ${script} exited (${child.exitCode ?? child.signalCode}) before answering:\n${output}`)
    }
    try {
      const response = await fetch(`${base}/`, { signal: AbortSignal.timeout(2_000) })
      if (response.ok) break
    } catch {
      // not listening yet
    }
    if (performance.now() - started > DEADLINE_MS) {
      throw new Error(`npm run ${script}: no answer on ${base}/ within ${DEADLINE_MS} ms:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.comment(`npm run ${script}: answered after ${Math.round(performance.now() - started)} ms`)
  return { base, output: () => output }
}

t.test('npm run example answers on HOST/PORT, with the plugin loaded from source', async (t) => {
  const { base } = await start(t, 'example')
  const home = await fetch(`${base}/`)
  t.equal(home.status, 200)
  t.match(await home.json(), { hello: 'world', docs: '/docs' })
  const profile = await fetch(`${base}/api/profile`)
  t.equal(profile.status, 401, 'a protected route')
  t.equal(profile.headers.get('www-authenticate'), 'Bearer realm="fastify-jwt-auth-example"')
  const captcha = await fetch(`${base}/auth/captcha`)
  t.equal(captcha.status, 200, 'the plugin\'s routes')
  t.equal((await fetch(`${base}/docs/json`)).status, 200, 'Swagger')
})

t.test('npm run example:quickstart answers on HOST/PORT', async (t) => {
  const { base } = await start(t, 'example:quickstart')
  const home = await fetch(`${base}/`)
  t.same(await home.json(), { hello: 'world' })
  const me = await fetch(`${base}/me`)
  t.equal(me.status, 401)
  t.equal(me.headers.get('www-authenticate'), 'Bearer realm="example-api"')
})
