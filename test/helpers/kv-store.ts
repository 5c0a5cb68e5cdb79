import type { KeyValueStore } from '../../lib/index.js'

/**
 * A store in the key-value shape of earlier versions, on a Map: the plugin
 * builds its ports on it. `atomic` adds increment, advance and the hash
 * methods; without them the plugin reads then writes. `kinds` records the
 * kind each key was written with.
 */
export function keyValueStore ({ atomic = false } = {}): KeyValueStore & { entries: Map<string, { value: string, expiresAt: number }>, kinds: Map<string, string | undefined> } {
  const entries = new Map<string, { value: string, expiresAt: number }>()
  const kinds = new Map<string, string | undefined>()
  const live = (key: string) => {
    const entry = entries.get(key)
    if (entry !== undefined && entry.expiresAt <= Date.now()) entries.delete(key)
    return entries.get(key)
  }
  const store: KeyValueStore & { entries: typeof entries, kinds: typeof kinds } = {
    entries,
    kinds,
    async set (key, value, ttlSeconds, kind) {
      entries.set(key, { value, expiresAt: Date.now() + ttlSeconds * 1000 })
      kinds.set(key, kind)
    },
    async get (key) { return live(key)?.value ?? null },
    async take (key) {
      const value = live(key)?.value ?? null
      entries.delete(key)
      return value
    },
    async delete (key) { entries.delete(key) }
  }
  if (!atomic) return store
  // A hash lives as long as its longest-lived field asked for (as the Redis store's session index does).
  const hashes = new Map<string, { fields: Record<string, string>, expiresAt: number }>()
  const liveHash = (key: string) => {
    const hash = hashes.get(key)
    if (hash !== undefined && hash.expiresAt <= Date.now()) hashes.delete(key)
    return hashes.get(key)
  }
  return Object.assign(store, {
    async increment (key: string, ttlSeconds: number) {
      const count = Number(live(key)?.value ?? 0) + 1
      entries.set(key, { value: String(count), expiresAt: live(key)?.expiresAt ?? Date.now() + ttlSeconds * 1000 })
      return count
    },
    async advance (key: string, floor: number, ttlSeconds: number) {
      const current = live(key)
      const value = Math.max(floor, Number(current?.value ?? -1) + 1)
      // A marker's lifetime is never cut by a raise with a shorter ttl.
      entries.set(key, { value: String(value), expiresAt: Math.max(current?.expiresAt ?? 0, Date.now() + ttlSeconds * 1000) })
      return value
    },
    async hset (key: string, field: string, value: string, ttlSeconds: number) {
      const hash = liveHash(key)
      hashes.set(key, {
        fields: { ...hash?.fields, [field]: value },
        expiresAt: Math.max(hash?.expiresAt ?? 0, Date.now() + ttlSeconds * 1000)
      })
    },
    async hgetall (key: string) { return { ...liveHash(key)?.fields } },
    async hdel (key: string, field: string) { delete liveHash(key)?.fields[field] },
    async delete (key: string) {
      entries.delete(key)
      hashes.delete(key)
    },
    async close () { hashes.clear() }
  })
}
