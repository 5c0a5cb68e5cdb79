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
  const hashes = new Map<string, Record<string, string>>()
  return Object.assign(store, {
    async increment (key: string, ttlSeconds: number) {
      const count = Number(live(key)?.value ?? 0) + 1
      entries.set(key, { value: String(count), expiresAt: live(key)?.expiresAt ?? Date.now() + ttlSeconds * 1000 })
      return count
    },
    async advance (key: string, floor: number, ttlSeconds: number) {
      const value = Math.max(floor, Number(live(key)?.value ?? -1) + 1)
      entries.set(key, { value: String(value), expiresAt: Date.now() + ttlSeconds * 1000 })
      return value
    },
    async hset (key: string, field: string, value: string) { hashes.set(key, { ...hashes.get(key), [field]: value }) },
    async hgetall (key: string) { return { ...hashes.get(key) } },
    async hdel (key: string, field: string) { delete hashes.get(key)?.[field] },
    async delete (key: string) {
      entries.delete(key)
      hashes.delete(key)
    },
    async close () { hashes.clear() }
  })
}
