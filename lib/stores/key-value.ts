import type { AuthStore, KeyValueStore, RefreshState, RevocationScope, UserInvalidationListener } from './types.js'

const markerKey = (scope: RevocationScope, id: string): string => `${scope === 'family' ? 'fam' : 'usr'}:${id}`
const refreshKey = (jti: string): string => `rt:${jti}`
const generationKey = (family: string): string => `rg:${family}`

// A spent token is `S<end of its grace, ms> <successor>`: put back after a look, it keeps what was left of its grace.
const spentValue = (until: number, successor: string): string => `S${until} ${successor}`

function toRefreshState (value: string | null): (RefreshState & { until?: number }) | null {
  if (value === null) return null
  if (value.startsWith('L')) return { state: 'live', record: value.slice(1) }
  const space = value.indexOf(' ')
  const until = Number(value.slice(1, space))
  return until > Date.now() ? { state: 'spent', successor: value.slice(space + 1), until } : null
}

/**
 * The ports on a key-value store (the store shape of earlier versions). Where
 * the store lacks an atomic method, the port reads then writes: markers stay
 * correct (they hold times, and any marker revokes its family), counters may
 * undercount under races, and a rotation's read-and-respend is a take then a
 * set, so a refresh at the very moment of another may be taken for a reuse.
 * Without the hash methods, a user's session index is one JSON value,
 * rewritten whole (`indexTtlSeconds`: how long it lives after a removal).
 */
export function fromKeyValue (kv: KeyValueStore, { indexTtlSeconds }: { indexTtlSeconds: number }): AuthStore {
  const listeners: UserInvalidationListener[] = []
  const readJson = async (key: string): Promise<Record<string, string>> => {
    const stored = await kv.get(key)
    return stored === null ? {} : JSON.parse(stored) as Record<string, string>
  }
  return {
    revocations: {
      async raise (scope, id, floor, ttlSeconds) {
        const key = markerKey(scope, id)
        if (kv.advance !== undefined) return kv.advance(key, floor, ttlSeconds)
        const current = Number(await kv.get(key))
        const value = Math.max(floor, Number.isSafeInteger(current) ? current + 1 : 0)
        await kv.set(key, String(value), ttlSeconds, 'durable')
        return value
      },
      read: (scope, id) => kv.get(markerKey(scope, id))
    },
    refreshTokens: {
      create: (family, jti, record, ttlSeconds) => kv.set(refreshKey(jti), `L${record}`, ttlSeconds, 'durable'),
      async find (family, jti) {
        const state = toRefreshState(await kv.get(refreshKey(jti)))
        return state?.state === 'spent' ? { state: 'spent', successor: state.successor } : state
      },
      async rotate ({ family, jti, parent, next, successor, ttlSeconds, graceSeconds, generation }) {
        const key = refreshKey(jti)
        const taken = await kv.take(key)
        const state = toRefreshState(taken)
        if (state === null) return null
        if (state.state === 'spent') {
          // Taken only to look: put back for what is left of its grace.
          await kv.set(key, taken!, (state.until! - Date.now()) / 1000, 'durable')
          return { state: 'spent', successor: state.successor }
        }
        try {
          // Before the successor exists: its own rotation, which can only follow, then reads this generation.
          // Always written (the highest kept), so that it lives as long as the family's newest token.
          const known = Number(await kv.get(generationKey(family)))
          await kv.set(generationKey(family), String(known > generation ? known : generation), ttlSeconds, 'durable')
          await kv.set(refreshKey(next.jti), `L${next.record}`, ttlSeconds, 'durable')
          const spent = spentValue(Date.now() + graceSeconds * 1000, successor)
          if (graceSeconds > 0) await kv.set(key, spent, graceSeconds, 'durable')
        } catch (error) {
          // Half done: the token goes back live, as far as the store lets it, so that a retry is no reuse.
          await kv.set(key, taken!, ttlSeconds, 'durable').catch(() => {})
          await kv.delete(refreshKey(next.jti)).catch(() => {})
          throw error
        }
        // A token's parent is spent or gone by now: its grace ends.
        if (parent !== undefined) await kv.delete(refreshKey(parent))
        return state
      },
      discard: (family, jti) => kv.delete(refreshKey(jti)),
      generation: async (family) => Number(await kv.get(generationKey(family)))
    },
    sessions: {
      async put (userId, family, session, ttlSeconds) {
        if (kv.hset !== undefined) return kv.hset(`ses:${userId}`, family, session, ttlSeconds)
        const fields = await readJson(`ses:${userId}`)
        fields[family] = session
        await kv.set(`ses:${userId}`, JSON.stringify(fields), ttlSeconds, 'durable')
      },
      list: (userId) => kv.hgetall !== undefined ? kv.hgetall(`ses:${userId}`) : readJson(`ses:${userId}`),
      async remove (userId, family) {
        if (kv.hdel !== undefined) return kv.hdel(`ses:${userId}`, family)
        const fields = await readJson(`ses:${userId}`)
        if (!Object.hasOwn(fields, family)) return
        delete fields[family]
        await kv.set(`ses:${userId}`, JSON.stringify(fields), indexTtlSeconds, 'durable')
      },
      clear: (userId) => kv.delete(`ses:${userId}`)
    },
    counters: {
      async increment (name, ttlSeconds) {
        if (kv.increment !== undefined) return kv.increment(`lf:${name}`, ttlSeconds)
        const count = (Number.parseInt(await kv.get(`lf:${name}`) ?? '0', 10) || 0) + 1
        await kv.set(`lf:${name}`, String(count), ttlSeconds, 'ephemeral')
        return count
      },
      reset: (name) => kv.delete(`lf:${name}`)
    },
    locks: {
      lock: (name, until, ttlSeconds) => kv.set(`lk:${name}`, String(until), ttlSeconds, 'durable'),
      async lockedUntil (name) {
        const value = await kv.get(`lk:${name}`)
        return value === null ? null : Number(value)
      }
    },
    challenges: {
      put: (id, value, ttlSeconds) => kv.set(`ch:${id}`, value, ttlSeconds, 'ephemeral'),
      take: (id) => kv.take(`ch:${id}`)
    },
    // A key-value store has no channel: invalidations reach the apps of this process.
    userInvalidations: {
      async publish (userId) { for (const listener of listeners) listener(userId) },
      listen (listener) { listeners.push(listener) },
      live: true
    },
    ...(kv.close === undefined ? {} : { close: () => kv.close!() })
  }
}
