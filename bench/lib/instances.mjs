// The app instances of bench/failover-memory.mjs, each with the same small interface (issue, refresh, revoke, me,
// sample, close): in processes of their own driven over HTTP (the default: the memory sampled is the instances'),
// or in the bench's own process through the API and app.inject (PROCESSES=0: runs 1 to 14 of bench/RESULTS.md).
import { fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'
import Fastify from 'fastify'
import jwtAuth, { memoryStore } from '../../dist/esm/index.js'
import { redisStore } from '../../dist/esm/redis.js'

const SECRET = 'bench-secret-bench-secret-bench-secret!!'
const MARKERS = 'jwt-auth:{revocations}:values'

/** What process.memoryUsage() says after a gc, with V8's spaces (committed and used) and the markers Redis holds. */
export async function memorySample (client) {
  globalThis.gc()
  const spaces = Object.fromEntries(getHeapSpaceStatistics()
    .map((space) => [space.space_name, [space.space_size, space.space_used_size]]))
  // Read before the markers are asked for: during a Cluster failover the answer takes seconds, and the heap fills.
  const memory = { ...process.memoryUsage(), spaces, pages: heapPages() }
  return { ...memory, markers: await client.hlen(MARKERS).catch(() => '?') }
}

const PAGE_KIB = 256
/**
 * How much of RSS is V8's regular heap pages, and how much of those pages is resident: Linux only (/proc/self/smaps),
 * and a heuristic: V8 maps each regular page as an anonymous read-write mapping of 256 KiB, and every such mapping is
 * counted (another of that size would be too). A page V8 commits counts in heapTotal, in RSS only once touched.
 */
function heapPages () {
  let smaps
  try { smaps = readFileSync('/proc/self/smaps', 'utf8') } catch { return null }
  const pages = { mapped: 0, resident: 0 }
  let page = false
  for (const line of smaps.split('\n')) {
    const mapping = /^([0-9a-f]+)-([0-9a-f]+) rw-p 00000000 00:00 0\s*$/.exec(line)
    if (mapping || /^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      page = mapping !== null && parseInt(mapping[2], 16) - parseInt(mapping[1], 16) === PAGE_KIB * 1024
      if (page) pages.mapped += PAGE_KIB * 1024
    } else if (page && line.startsWith('Rss:')) pages.resident += Number(line.split(/\s+/)[1]) * 1024
  }
  return pages
}

/** The plugin as every instance registers it, and the route the load authenticates against. */
export async function withPlugin (app, connection, ttls) {
  // STORE=memory: each instance with a store of its own in memory (a diagnostic: nothing is shared, so a token
  // refreshed or revoked on the other instance is unknown there), to set the Redis client apart.
  // MIRROR=0: the Redis store without its mirror (a diagnostic: no resynchronisation after a failover).
  const mirror = process.env.MIRROR === '0' ? { mirror: false } : {}
  const store = process.env.STORE === 'memory' ? memoryStore() : redisStore({ ...connection, ...mirror })
  await app.register(jwtAuth, { secret: SECRET, ...ttls, store, users: { findById: async (id) => ({ id }) } })
  app.get('/me', { onRequest: app.authenticate }, async () => ({ ok: true }))
}

export async function localInstance (connection, ttls) {
  const app = Fastify()
  await withPlugin(app, connection, ttls)
  await app.ready()
  return {
    issue: (id) => app.jwtAuth.issue({ id }),
    refresh: (refreshToken) => app.jwtAuth.refresh(refreshToken),
    revoke: (token) => app.jwtAuth.revoke(token),
    me: async (token) => (await app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })).statusCode,
    // For a refused refresh token: what the store holds of it and of its family now.
    storeSays: async (claims) => {
      const found = await app.jwtAuth.store.refreshTokens.find(claims.fam, claims.jti).catch((error) => error.code)
      const generation = await app.jwtAuth.store.refreshTokens.generation(claims.fam).catch((error) => error.code)
      return ` [token gen ${claims.gen}: ${found?.state ?? found}; family generation ${generation}]`
    },
    status: async () => app.jwtAuth.store.client.status,
    sample: () => memorySample(app.jwtAuth.store.client),
    close: () => app.close()
  }
}

/** An error as the API would have thrown it, from the plugin's answer over HTTP. */
function answerError (body) {
  const error = new Error(body.message)
  error.code = body.code
  error.cause = { message: body.message }
  return error
}

export async function childInstance (connection, ttls) {
  const child = fork(new URL('./instance.mjs', import.meta.url),
    [JSON.stringify(connection), ttls.accessTokenTtl, ttls.refreshTokenTtl], { execArgv: ['--expose-gc'] })
  // The answers awaited, by kind, in the order asked.
  const waiting = { port: [], sample: [], status: [] }
  child.on('message', ({ kind, value }) => waiting[kind].shift()?.(value))
  const ask = (kind) => new Promise((resolve) => { waiting[kind].push(resolve); if (kind !== 'port') child.send(kind) })
  const port = await Promise.race([ask('port'), new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the instance exited (${code})`)))
  })])
  const base = `http://127.0.0.1:${port}`
  const post = async (path, body) => {
    const response = await fetch(base + path, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
    })
    const answer = await response.json()
    if (!response.ok) throw answerError(answer)
    return answer
  }
  return {
    issue: (id) => post('/issue', { id }),
    refresh: (refreshToken) => post('/refresh', { refreshToken }),
    revoke: (token) => post('/revoke', { token }),
    me: async (token) => {
      const response = await fetch(`${base}/me`, { headers: { authorization: `Bearer ${token}` } })
      await response.arrayBuffer()
      return response.status
    },
    storeSays: async () => '',
    status: () => ask('status'),
    sample: () => ask('sample'),
    close: () => new Promise((resolve) => { child.once('exit', resolve); child.send('close') })
  }
}
