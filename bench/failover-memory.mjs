// node bench/failover-memory.mjs (after npm run build): memory of two app instances, each a process of its own
// driven over HTTP by this one, under load on a Sentinel topology that fails over every minute, alternately
// SENTINEL FAILOVER and SIGKILL of the master, for ten minutes. RSS and heap (after a gc) are sampled every 10 s;
// the figure that matters is the growth after the first two minutes (warm-up: the JIT, the pools, the markers
// reaching their steady state). It also keeps some acknowledged logouts and checks, at each sample, that neither
// instance accepts their access tokens. On Linux it also splits RSS into V8's regular heap pages (mapped, resident)
// and the rest, to tell the heap filling the pages it has committed from memory held elsewhere. Figures and
// commands in bench/RESULTS.md.
//   TOPOLOGY=cluster: a Cluster instead; FAILOVERS=0: the same load without failovers (the control);
//   MINUTE_MS and MINUTES: a shorter or longer run; ACCESS_TTL and REFRESH_TTL: the tokens' lifetimes (30s and 2m;
//   a logout's marker lives as long as the refresh token, so the mirrors' steady state forms within that);
//   PROCESSES=0 (with node --expose-gc): both instances and the load in this process, through the API and
//   app.inject, as runs 1 to 14 measured; BASELINE=1: the instances serve the same routes without the plugin
//   (bench/lib/instance.mjs), for what the runtime and the load cost alone; PROBES=0: no logout kept and checked
//   (a diagnostic: no burst of checks at each sample); MIRROR=0: the Redis store without its mirror (a diagnostic).
import { clusterTopology } from './lib/cluster.mjs'
import { childInstance, localInstance } from './lib/instances.mjs'
import { sentinelTopology } from './lib/sentinel.mjs'

// BENCH_SMOKE=1: one failover of each kind within seconds, so the test suite can check that the script still runs.
const SMOKE = process.env.BENCH_SMOKE === '1'
const MINUTE = Number(process.env.MINUTE_MS ?? (SMOKE ? 3_000 : 60_000))
const MINUTES = Number(process.env.MINUTES ?? (SMOKE ? 3 : 10))
const SAMPLE_EVERY = SMOKE ? 1_000 : 10_000
const WORKERS = 8
const LOCAL = process.env.PROCESSES === '0'
if (LOCAL && !globalThis.gc) throw new Error('PROCESSES=0: run with node --expose-gc')

// A Cluster: 3 masters and 3 replicas; the master of {revocations} is killed every minute.
const CLUSTER = process.env.TOPOLOGY === 'cluster'
const topology = CLUSTER ? await clusterTopology() : await sentinelTopology()
const connection = CLUSTER
  ? { cluster: { nodes: topology.nodes } }
  : { redisOptions: { sentinels: topology.sentinels, name: 'mymaster' } }
// Short lifetimes: revocation markers (kept in each instance's mirror) expire, so the load has a steady state.
const ttls = { accessTokenTtl: process.env.ACCESS_TTL ?? '30s', refreshTokenTtl: process.env.REFRESH_TTL ?? '2m' }
const instance = LOCAL ? localInstance : childInstance
const apps = [await instance(connection, ttls), await instance(connection, ttls)]

const counts = { ok: 0, unavailable: 0, other: 0 }
// The other failures by code: a refresh whose record a failover lost is FST_JWT_AUTH_REFRESH_TOKEN_UNKNOWN (the
// client logs in again); a false reuse would be FST_JWT_AUTH_REFRESH_TOKEN_REUSED.
const others = {}
let lastCause = ''
const state = { running: true }
// What a session went through before another failure (the first few), to tell a lost answer from a lost write.
const traces = []
// One in PROBE_EVERY acknowledged logouts, kept: its access token must be refused by both instances until it
// expires, failovers or not (checked at every sample). A bounded ring: a constant share of the memory measured.
const PROBE_EVERY = 20
const PROBES = process.env.PROBES !== '0'
const probes = []
let logouts = 0
async function step (app, session, w, n) {
  if (session === null) return ['issue', await app.issue(`user${w}-${n}`)]
  if (n % 10 === 9) {
    await app.revoke(session.accessToken)
    if (PROBES && logouts++ % PROBE_EVERY === 0) probes.push(session.accessToken)
    if (probes.length > 2000) probes.shift()
    return ['revoke', null]
  }
  if (n % 3 === 0) return ['refresh', await app.refresh(session.refreshToken)]
  await app.me(session.accessToken)
  return ['me', session]
}
const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url'))
// For a refused refresh token: what the store holds of it and of its family now (in this process only).
const storeSays = async (app, session) => session === null ? '' : app.storeSays(claimsOf(session.refreshToken))
async function worker (w) {
  let session = null
  let trail = []
  for (let n = 0; state.running; n++) {
    const app = apps[n % 2]
    const at = Date.now() - started
    try {
      const [op, next] = await step(app, session, w, n)
      if (session === null) trail = []
      trail = [...trail.slice(-4), `${op} ok @${at}`]
      session = next
      counts.ok++
    } catch (error) {
      trail = [...trail.slice(-4), `${error.code} @${at}`]
      if (error.code === 'FST_JWT_AUTH_STORE_UNAVAILABLE') {
        counts.unavailable++
        lastCause = String(error.cause?.message)
        // A client backs off: without it, the failing loop would take the CPU the Redis servers need to recover.
        await new Promise((resolve) => setTimeout(resolve, 20))
      } else {
        counts.other++
        others[error.code ?? error.message] = (others[error.code ?? error.message] ?? 0) + 1
        if (traces.length < 8) traces.push(trail.join(' > ') + await storeSays(app, session))
        session = null
      }
    }
    if (n % 50 === 49) await new Promise((resolve) => setImmediate(resolve))
  }
}
/** How many of the kept revoked tokens not expired yet either instance accepts (200); and how many it checked. */
async function probeRevoked () {
  const now = Date.now() / 1000
  const live = probes.filter((token) => claimsOf(token).exp > now + 1)
  const statuses = await Promise.all(live.flatMap((token) => apps.map((app) => app.me(token))))
  return { accepted: statuses.filter((status) => status === 200).length, checked: statuses.length }
}
const revokedAccepted = { accepted: 0, checked: 0 }

const started = Date.now()
const workers = Array.from({ length: WORKERS }, (_, w) => worker(w))
const samples = []
// One sample: the processes' memory after a gc (the sum over the instances, each kept too), the markers Redis holds
// (each instance's mirror holds as many), and the kept revoked tokens either instance accepts.
const sampler = setInterval(async () => {
  const at = Date.now() - started
  const each = LOCAL ? [await apps[0].sample()] : await Promise.all(apps.map((app) => app.sample()))
  const sum = (key) => each.reduce((total, one) => total + one[key], 0)
  const spaces = Object.fromEntries(Object.keys(each[0].spaces).map((name) =>
    [name, [0, 1].map((i) => each.reduce((total, one) => total + one.spaces[name][i], 0))]))
  const sample = { at, each, spaces, markers: each[0].markers }
  for (const key of ['rss', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers']) sample[key] = sum(key)
  samples.push(sample)
  const { accepted, checked } = await probeRevoked().catch(() => ({ accepted: 0, checked: 0 }))
  revokedAccepted.accepted += accepted
  revokedAccepted.checked += checked
  sample.accepted = accepted
}, SAMPLE_EVERY)

for (let minute = 1; minute < MINUTES; minute++) {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + minute * MINUTE - Date.now())))
  // FAILOVERS=0: the same load without failovers, the control.
  if (process.env.FAILOVERS === '0') continue
  const kind = CLUSTER ? 'cluster' : minute % 2 === 1 ? 'failover' : 'killMaster'
  const at = Date.now()
  if (CLUSTER) await topology.killMasterOf('jwt-auth:{revocations}:values')
  else await topology[kind]()
  const what = { cluster: 'SIGKILL of the master of {revocations}', failover: 'SENTINEL FAILOVER', killMaster: 'SIGKILL of the master' }
  console.log(`minute ${minute}: ${what[kind]} done in ` +
    `${Date.now() - at} ms; ${JSON.stringify(counts)}; last 503: ${lastCause}; ` +
    `clients: ${(await Promise.all(apps.map((app) => app.status()))).join(', ')}`)
}
await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + MINUTES * MINUTE - Date.now())))
state.running = false
await Promise.all(workers)
clearInterval(sampler)

const mib = (bytes) => (bytes / 2 ** 20).toFixed(1)
// The V8 regular pages of a sample's instances summed (null off Linux).
const pagesOf = (sample) => sample.each.map((one) => one.pages).reduce((total, one) => one === null || total === null
  ? null
  : { mapped: total.mapped + one.mapped, resident: total.resident + one.resident })
const after2 = samples.filter((sample) => sample.at >= 2 * MINUTE)
const first = after2[0] ?? samples[0]
const last = samples.at(-1)
const peak = (key) => Math.max(...after2.map((sample) => sample[key]))
const percent = (from, to) => (100 * (to - from) / from).toFixed(1)
const growth = (key) => percent(first[key], last[key])
console.log('samples (s: rss / heap used / heap total / external / array buffers, MiB; markers): ' +
  samples.map((s) => `${Math.round(s.at / 1000)}: ${[s.rss, s.heapUsed, s.heapTotal, s.external, s.arrayBuffers].map(mib).join('/')}` +
    `; ${s.markers}${s.accepted > 0 ? `; REVOKED ACCEPTED ${s.accepted}` : ''}`).join(', '))
const spaceNames = ['old_space', 'new_space', 'large_object_space', 'code_space']
console.log('heap spaces, committed/used MiB (s: old / new / large objects / code): ' + samples.map((s) =>
  `${Math.round(s.at / 1000)}: ${spaceNames.map((name) => s.spaces[name]?.map(mib).join('/') ?? '-').join(' ')}`)
  .join(', '))
if (samples.every((sample) => pagesOf(sample) !== null)) {
  console.log('V8\'s regular pages, resident/mapped MiB (s: both): ' + samples.map((sample) =>
    `${Math.round(sample.at / 1000)}: ${mib(pagesOf(sample).resident)}/${mib(pagesOf(sample).mapped)}`).join(', '))
}
console.log(`${JSON.stringify(counts)} operations; other failures by code: ${JSON.stringify(others)}`)
const kept = PROBES
  ? `one logout in ${PROBE_EVERY} kept, checked on both instances at each sample until it expires`
  : 'PROBES=0: none kept'
const { accepted, checked } = revokedAccepted
console.log(`revoked access tokens accepted: ${accepted} of ${checked} checks (${kept})`)
for (const trace of traces) console.log(`  a session before another failure: ${trace}`)
if (!LOCAL) {
  console.log(apps.map((app, i) => `instance ${i + 1}: rss ${mib(first.each[i].rss)} -> ${mib(last.each[i].rss)} MiB ` +
    `(${percent(first.each[i].rss, last.each[i].rss)}%)`).join('; '))
}
// Where the growth after minute 2 sits (Linux): V8's regular pages (anonymous mappings of 256 KiB), mapped and
// resident, and the rest of RSS (the binary, malloc, stacks, V8's large-object and code pages).
const [pagesFirst, pagesLast] = [pagesOf(first), pagesOf(last)]
if (pagesFirst !== null && pagesLast !== null) {
  const outside = (sample, pages) => sample.rss - pages.resident
  console.log(`after minute 2, V8's regular pages: mapped ${mib(pagesFirst.mapped)} -> ${mib(pagesLast.mapped)} MiB, ` +
    `resident ${mib(pagesFirst.resident)} -> ${mib(pagesLast.resident)} MiB; RSS outside them ` +
    `${mib(outside(first, pagesFirst))} -> ${mib(outside(last, pagesLast))} MiB ` +
    `(${percent(outside(first, pagesFirst), outside(last, pagesLast))}%)`)
}
console.log(`after minute 2${LOCAL ? '' : ', both instances'}: ` +
  `rss ${mib(first.rss)} -> ${mib(last.rss)} MiB (${growth('rss')}%, peak ${mib(peak('rss'))}), ` +
  `heap ${mib(first.heapUsed)} -> ${mib(last.heapUsed)} MiB (${growth('heapUsed')}%, peak ${mib(peak('heapUsed'))})`)
await Promise.all(apps.map((app) => app.close()))
topology.stop()
