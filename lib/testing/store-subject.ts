import { fromKeyValue } from '../stores/key-value.js'
import { checkStoreShape } from '../stores/resolve.js'
import type { AuthStore, KeyValueStore, UserInvalidations } from '../stores/types.js'

/** A store as the conformance checks see it: its ports, and what its shape promises. */
export interface StoreSubject {
  /** The store as createStore made it. */
  store: AuthStore | KeyValueStore
  /** The store's ports; for the key-value shape, those the plugin builds on it. */
  ports: AuthStore
  /** The store's own invalidations channel (the key-value shape has none). */
  invalidations: UserInvalidations | undefined
  /** Raise is atomic and never shortens a lifetime: a store of ports, or a key-value store with advance. */
  atomicMarkers: boolean
  /** Counters count atomically, in a fixed window: ports, or increment (else the plugin refuses the lockout). */
  atomicCounters: boolean
  /** Losing concurrent rotations see the token spent: ports (the key-value shape may see it taken: null). */
  strictRotation: boolean
}

/**
 * Checks a store as the plugin does at register, with the same errors
 * (`store.refreshTokens.rotate must be a function`): every port and method of
 * a store of ports, or the methods of the key-value shape.
 */
export function checkStore (store: unknown): void {
  shapeOf(store)
}

function shapeOf (store: unknown): 'ports' | 'key-value' {
  if (store === null || typeof store !== 'object') {
    throw new TypeError('checkStore: a store is an object: memoryStore(), redisStore(...) or your own')
  }
  return checkStoreShape(store)
}

// How long a key-value store's session index lives after a removal rewrites it (the plugin's is the marker TTL).
const INDEX_TTL_SECONDS = 60

export function toSubject (store: AuthStore | KeyValueStore): StoreSubject {
  if (shapeOf(store) === 'ports') {
    const ports = store as AuthStore
    return {
      store,
      ports,
      invalidations: ports.userInvalidations,
      atomicMarkers: true,
      atomicCounters: true,
      strictRotation: true
    }
  }
  const kv = store as KeyValueStore
  return {
    store,
    ports: fromKeyValue(kv, { indexTtlSeconds: INDEX_TTL_SECONDS }),
    invalidations: undefined,
    atomicMarkers: typeof kv.advance === 'function',
    atomicCounters: typeof kv.increment === 'function',
    strictRotation: false
  }
}
