// Two app instances on one Redis topology, under a load of refreshes and logouts while it fails over; then the
// verdict: what was acknowledged (200, 204) must hold on both instances, and no session is taken for a theft.
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import jwtAuth, { type AuthEvent, type AuthStore, type JwtAuthOptions } from '../../lib/index.js'
import { bearer, SECRET } from './app.js'

export interface Instance { app: FastifyInstance, events: AuthEvent[] }

/** One app per store, each with its own events; closed (store included) at teardown. */
export async function instances (t: Test, stores: AuthStore[], options: Partial<JwtAuthOptions> = {}): Promise<Instance[]> {
  return Promise.all(stores.map(async (store) => {
    const events: AuthEvent[] = []
    const app = Fastify()
    await app.register(jwtAuth, {
      secret: SECRET,
      store,
      users: { findById: async (id: string) => ({ id }) },
      onEvent: (event: AuthEvent) => { events.push(event) },
      ...options
    } as JwtAuthOptions)
    app.get('/me', { onRequest: app.authenticate }, async () => ({ ok: true }))
    await app.ready()
    t.teardown(() => app.close())
    return { app, events }
  }))
}

interface Session {
  access: string
  refresh: string
  /** Its logout was acknowledged: it must stay revoked. */
  revoked: boolean
  /** A logout answered 503: it may or may not have happened. */
  uncertain: boolean
}

export interface Load {
  /** Acknowledged while it ran: rotations (200) and logouts (204); answers 503; lost rotations (unknown). */
  counts: { rotations: number, logouts: number, unavailable: number, unknown: number }
  /** Ends the load; resolves once its requests are in. */
  stop (): Promise<void>
  sessions: Session[]
}

const code = (error: unknown): string => (error as { code?: string }).code ?? String(error)

/**
 * Sessions logged in on the first instance, then refreshed on either instance in turn, one in five logged out,
 * by `workers` loops until stopped. Each loop awaits its request: a load, not a flood.
 */
export async function startLoad (list: Instance[], { sessions: count = 40, workers = 4 } = {}): Promise<Load> {
  const sessions: Session[] = []
  for (let i = 0; i < count; i++) {
    const pair = await list[0]!.app.jwtAuth.issue({ id: `user${i}` })
    sessions.push({ access: pair.accessToken, refresh: pair.refreshToken, revoked: false, uncertain: false })
  }
  const counts = { rotations: 0, logouts: 0, unavailable: 0, unknown: 0 }
  const state = { running: true }
  let turn = 0
  const unexpected: string[] = []
  async function step (): Promise<void> {
    const n = turn++
    const session = sessions[n % count]!
    if (session.revoked || session.uncertain) return
    const { jwtAuth } = list[n % list.length]!.app
    try {
      if (n % 5 === 4) {
        await jwtAuth.revoke(session.access)
        session.revoked = true
        counts.logouts++
      } else {
        const pair = await jwtAuth.refresh(session.refresh)
        session.access = pair.accessToken
        session.refresh = pair.refreshToken
        counts.rotations++
      }
    } catch (error) {
      if (code(error) === 'FST_JWT_AUTH_STORE_UNAVAILABLE') {
        counts.unavailable++
        // A logout that may have happened is left out of the verdict; a refresh is simply tried again later.
        if (n % 5 === 4) session.uncertain = true
      } else if (code(error) === 'FST_JWT_AUTH_REFRESH_TOKEN_UNKNOWN') {
        counts.unknown++
        session.uncertain = true
        // The client logs in again, as an app does after this 401: the load goes on (a graceful failover loses
        // every rotation the old master takes before the switch, and would otherwise end every session).
        await jwtAuth.issue({ id: `user${n % count}` }).then((pair) => {
          sessions[n % count] = { access: pair.accessToken, refresh: pair.refreshToken, revoked: false, uncertain: false }
        }, () => {})
      } else {
        unexpected.push(code(error))
        session.uncertain = true
      }
    }
  }
  const loops = Array.from({ length: workers }, async () => {
    while (state.running) {
      await step()
      // Lets the timers of the failover's polls run between requests.
      await new Promise((resolve) => setImmediate(resolve))
    }
  })
  return {
    counts,
    sessions,
    async stop () {
      state.running = false
      await Promise.all(loops)
      if (unexpected.length > 0) throw new Error(`unexpected answers under load: ${unexpected.join(', ')}`)
    }
  }
}

const statusOf = async (instance: Instance, access: string): Promise<number> =>
  (await instance.app.inject({ url: '/me', headers: bearer(access) })).statusCode

/**
 * Once the failover is over: how long the first live session took to be served again by every instance (ms,
 * polled, at most `withinMs`), then every acknowledged logout still revoked on every instance, every session
 * refreshed (or found revoked), and no `refresh.reuse` anywhere.
 */
export async function verdict (
  t: Test, list: Instance[], load: Load, { withinMs = 10_000, nothingLost = true } = {}
): Promise<void> {
  const live = load.sessions.find((session) => !session.revoked && !session.uncertain)!
  const started = performance.now()
  let back = false
  while (performance.now() - started < withinMs) {
    const statuses = await Promise.all(list.map((instance) => statusOf(instance, live.access)))
    if (statuses.every((status) => status === 200)) {
      back = true
      break
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.ok(back, `a live session served again by every instance within ${withinMs} ms ` +
    `(${Math.round(performance.now() - started)} ms after the failover)`)
  const accepted: string[] = []
  const lost: string[] = []
  for (const [i, session] of load.sessions.entries()) {
    if (session.uncertain) continue
    if (session.revoked) {
      for (const [k, instance] of list.entries()) {
        if (await statusOf(instance, session.access) !== 401) accepted.push(`session ${i} on instance ${k}`)
      }
      continue
    }
    // The last acknowledged rotation survived: its token refreshes (a lost one would be unknown).
    try {
      await list[i % list.length]!.app.jwtAuth.refresh(session.refresh)
    } catch (error) {
      lost.push(`session ${i}: ${code(error)}`)
    }
  }
  t.comment(`${JSON.stringify(load.counts)}; logouts undone: ${accepted.length}; rotations lost: ${lost.length}`)
  // A logout's marker is in the copy of the instance that wrote it, which writes it back to a master that lacks it.
  t.same(accepted, [], `no acknowledged logout (${load.counts.logouts}) accepted on any instance`)
  if (nothingLost) {
    t.same(lost, [], `every acknowledged rotation (${load.counts.rotations}) survived`)
    t.equal(load.counts.unknown, 0, 'no rotation lost while the load ran')
  } else {
    // Lost, a rotation is refused alone: never taken for a theft (which would revoke the session).
    t.ok(lost.every((entry) => entry.endsWith('FST_JWT_AUTH_REFRESH_TOKEN_UNKNOWN')), 'a lost rotation is unknown')
  }
  const reuse = list.flatMap((instance) => instance.events.filter((event) => event.type === 'refresh.reuse'))
  t.same(reuse, [], 'no false reuse')
}
