// `app.close()` lets the process exit, whatever state Redis is in: the README's
// "Running several instances" snippet runs in a child process (the built
// package, imported by its name as a consumer would), and the child must exit
// by itself within a few seconds of `app.close()` resolving. Real redis-server
// processes: up, killed, restarted or paused (SIGSTOP) before the close.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { startCluster, startRedis, startSentinel, type RedisServer } from './helpers/redis.js'

const root = fileURLToPath(new URL('..', import.meta.url))
// A plain consumer process: no TypeScript loader, no coverage (dist/ maps back to lib/ with other lines).
const env = { ...process.env }
delete env.NODE_OPTIONS
delete env.NODE_V8_COVERAGE

// Child processes, one after the other, some waiting for Redis to time out: longer than tap's default.
t.setTimeout(120_000)

/** Within this of app.close() resolving, the process must be gone. */
const EXIT_WITHIN_MS = 3000

// The README snippet, then a login, a request and a revocation, so that every connection has been used.
// `STORE` is the store expression; the child waits for "close" on stdin before closing the app.
const snippet = (store: string, after = ''): string => `
import Fastify from 'fastify'
import jwtAuth, { memoryStore } from 'fastify-jwt-auth'
import { redisStore } from 'fastify-jwt-auth/redis'
import { createInterface } from 'node:readline'

const app = Fastify()
await app.register(jwtAuth, {
  secret: 'a-secret-of-at-least-thirty-two-bytes!',
  store: ${store},
})
app.get('/me', { onRequest: app.authenticate }, async (request) => request.user)
await app.listen({ port: 0, host: '127.0.0.1' })
const pair = await app.jwtAuth.issue({ id: 1 })
const me = await app.inject({ url: '/me', headers: { authorization: 'Bearer ' + pair.accessToken } })
await app.jwtAuth.revoke(pair.refreshToken)
console.log('ready', me.statusCode)
for await (const line of createInterface({ input: process.stdin })) {
  if (line !== 'close') continue
  await app.close()
  console.log('closed')
  ${after}
  process.stdin.destroy()
  break // the loop would wait for input forever: Node 22+ exits 13 on a top-level await that never settles
}
`

interface Run { lines: string[], exitedAfterCloseMs: number | undefined, code: number | null }

/** Runs a snippet; `before` acts on Redis once the app is ready, then the app is closed. */
async function run (t: Test, source: string, before: () => Promise<void> | void = () => {}): Promise<Run> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { cwd: root, env, stdio: ['pipe', 'pipe', 'inherit'] })
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  t.teardown(() => { clearTimeout(killer); child.kill('SIGKILL') })
  const lines: string[] = []
  let closedAt: number | undefined
  let buffered = ''
  const seen = new Set<string>()
  const waiters = new Map<string, () => void>()
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += String(chunk)
    let newline
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      lines.push(line)
      const word = line.split(' ')[0]!
      if (word === 'closed') closedAt = performance.now()
      seen.add(word)
      waiters.get(word)?.()
    }
  })
  const saw = (word: string) => seen.has(word) ? Promise.resolve() : new Promise<void>((resolve) => waiters.set(word, resolve))
  const exited = once(child, 'exit') as Promise<[number | null]>
  await Promise.race([saw('ready'), exited])
  await before()
  child.stdin.write('close\n')
  const [code] = await exited
  clearTimeout(killer)
  return { lines, code, exitedAfterCloseMs: closedAt === undefined ? undefined : performance.now() - closedAt }
}

/** Runs a program to its end (killed after 15 s): what it printed and its exit code. */
async function runToEnd (source: string): Promise<{ output: string, code: number | null }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.on('data', (chunk) => { output += String(chunk) })
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  const [code] = await once(child, 'exit') as [number | null]
  clearTimeout(killer)
  return { output, code }
}

function exitsPromptly (t: Test, result: Run, what: string): void {
  t.equal(result.lines[0], 'ready 200', `${what}: the app served a request`)
  t.ok(result.lines.includes('closed'), `${what}: app.close() resolved`)
  t.equal(result.code, 0, `${what}: the process exited by itself`)
  t.ok(result.exitedAfterCloseMs !== undefined && result.exitedAfterCloseMs < EXIT_WITHIN_MS,
    `${what}: within ${EXIT_WITHIN_MS} ms of app.close() (${result.exitedAfterCloseMs?.toFixed(0)} ms)`)
}

async function redisFor (t: Test): Promise<RedisServer> {
  const server = await startRedis()
  t.teardown(() => server.stop())
  return server
}

t.test('the memory store (the default)', async (t) => {
  exitsPromptly(t, await run(t, snippet('undefined')), 'default store')
  exitsPromptly(t, await run(t, snippet('memoryStore()')), 'memoryStore() passed in')
})

t.test('redisStore({ url }), the README snippet', async (t) => {
  t.test('Redis up', async (t) => {
    const server = await redisFor(t)
    exitsPromptly(t, await run(t, snippet(`redisStore({ url: '${server.url}' })`)), 'Redis up')
  })

  t.test('Redis killed before the close (reconnecting)', async (t) => {
    const server = await redisFor(t)
    exitsPromptly(t, await run(t, snippet(`redisStore({ url: '${server.url}' })`), async () => {
      await server.kill()
      await new Promise((resolve) => setTimeout(resolve, 300))
    }), 'Redis killed')
  })

  t.test('Redis restarted before the close (reconnection in flight)', async (t) => {
    const server = await redisFor(t)
    exitsPromptly(t, await run(t, snippet(`redisStore({ url: '${server.url}' })`), async () => {
      await server.kill()
      await server.start()
    }), 'Redis restarted')
  })

  t.test('Redis paused (SIGSTOP) before the close', async (t) => {
    const server = await redisFor(t)
    exitsPromptly(t, await run(t, snippet(`redisStore({ url: '${server.url}' })`), () => { server.pause() }), 'Redis paused')
    server.resume()
  })
})

t.test('Sentinel and Cluster', async (t) => {
  t.test('Sentinel', async (t) => {
    const { sentinel, stop } = await startSentinel()
    t.teardown(stop)
    const store = `redisStore({ redisOptions: { sentinels: [{ host: '127.0.0.1', port: ${sentinel.port} }], name: 'mymaster' } })`
    exitsPromptly(t, await run(t, snippet(store)), 'Sentinel')
  })

  t.test('Sentinel, its master paused before the close', async (t) => {
    const { master, sentinel, stop } = await startSentinel()
    t.teardown(stop)
    const store = `redisStore({ redisOptions: { sentinels: [{ host: '127.0.0.1', port: ${sentinel.port} }], name: 'mymaster' } })`
    exitsPromptly(t, await run(t, snippet(store), () => { master.pause() }), 'Sentinel, master paused')
    master.resume()
  })

  t.test('Cluster', async (t) => {
    const cluster = await startCluster()
    t.teardown(cluster.stop)
    const store = `redisStore({ cluster: { nodes: ${JSON.stringify(cluster.nodes)} } })`
    exitsPromptly(t, await run(t, snippet(store)), 'Cluster')
    exitsPromptly(t, await run(t, snippet(store), async () => { await cluster.servers[0]!.kill() }), 'Cluster, a master killed')
  })
})

t.test('a client you pass stays yours: the store closes its own connection, you close yours', async (t) => {
  const server = await redisFor(t)
  const source = snippet('redisStore({ client })', 'await client.quit()')
    .replace("import { createInterface } from 'node:readline'", `import { createInterface } from 'node:readline'
import { Redis } from 'ioredis'
const client = new Redis('${server.url}')`)
  const result = await run(t, source)
  exitsPromptly(t, result, 'client passed in')
})

t.test('one store on two apps is closed with the last of them; closeWithApp: false leaves it to you', async (t) => {
  const server = await redisFor(t)
  const twoApps = `
import Fastify from 'fastify'
import jwtAuth from 'fastify-jwt-auth'
import { redisStore } from 'fastify-jwt-auth/redis'
const store = redisStore({ url: '${server.url}' })
const options = { secret: 'a-secret-of-at-least-thirty-two-bytes!', store }
const a = Fastify()
await a.register(jwtAuth, options)
const b = Fastify()
await b.register(jwtAuth, options)
b.get('/me', { onRequest: b.authenticate }, async () => 'ok')
const pair = await a.jwtAuth.issue({ id: 1 })
await a.close()
const me = await b.inject({ url: '/me', headers: { authorization: 'Bearer ' + pair.accessToken } })
console.log('after-a', me.statusCode, store.client.status)
await b.close()
await new Promise((resolve) => setTimeout(resolve, 100))
console.log('after-b', store.client.status)
`
  const { output, code } = await runToEnd(twoApps)
  t.match(output, /after-a 200 ready/, 'B still works after A closed')
  t.match(output, /after-b end/, 'closed with B, the last app')
  t.equal(code, 0, 'and the process exited by itself')

  const kept = `
import Fastify from 'fastify'
import jwtAuth from 'fastify-jwt-auth'
import { redisStore } from 'fastify-jwt-auth/redis'
const store = redisStore({ url: '${server.url}', closeWithApp: false })
const app = Fastify()
await app.register(jwtAuth, { secret: 'a-secret-of-at-least-thirty-two-bytes!', store })
await app.close()
await new Promise((resolve) => setTimeout(resolve, 300))
console.log('kept', store.client.status)
const again = Fastify()
await again.register(jwtAuth, { secret: 'a-secret-of-at-least-thirty-two-bytes!', store })
const pair = await again.jwtAuth.issue({ id: 2 })
console.log('reused', typeof pair.accessToken)
await again.close()
await store.close()
`
  const { output: keptOutput, code: keptCode } = await runToEnd(kept)
  t.match(keptOutput, /kept ready/, 'open after the app closed')
  t.match(keptOutput, /reused string/, 'and usable by another app')
  t.equal(keptCode, 0, 'the process exits once you close it')
})

t.test('a register that fails because Redis is unreachable lets the process exit: the store closed what it opened', async (t) => {
  const { freePort } = await import('./helpers/redis.js')
  const port = await freePort()
  const failing = (store: string): string => `
import Fastify from 'fastify'
import jwtAuth from 'fastify-jwt-auth'
import { redisStore } from 'fastify-jwt-auth/redis'
const app = Fastify()
try {
  await app.register(jwtAuth, { secret: 'a-secret-of-at-least-thirty-two-bytes!', store: ${store} })
  console.log('registered')
} catch (error) {
  console.log('failed', error.code, performance.now().toFixed(0))
}
`
  const nodes = JSON.stringify([{ host: '127.0.0.1', port }])
  for (const store of [
    `redisStore({ url: 'redis://127.0.0.1:${port}', readyTimeout: '300ms' })`,
    `redisStore({ redisOptions: { sentinels: [{ host: '127.0.0.1', port: ${port} }], name: 'mymaster' }, readyTimeout: '300ms' })`,
    `redisStore({ cluster: { nodes: ${nodes} }, readyTimeout: '300ms' })`
  ]) {
    const started = performance.now()
    const { output, code } = await runToEnd(failing(store))
    const ended = performance.now() - started
    t.match(output, /^failed FST_JWT_AUTH_STORE_UNREACHABLE (\d+)/, store)
    const failedAt = Number(/^failed \S+ (\d+)/.exec(output)?.[1])
    t.equal(code, 0, 'the process exited by itself')
    // performance.now() in the child counts from its start, as `started` here nearly does.
    t.ok(ended - failedAt < EXIT_WITHIN_MS, `within ${EXIT_WITHIN_MS} ms of the failure (${(ended - failedAt).toFixed(0)} ms)`)
  }
})
