import { InvalidOptionError } from '../errors.js'
import { createStoreGuard } from './guard.js'
import { fromKeyValue } from './key-value.js'
import type { AuthStore, KeyValueStore, RefreshTokens, StoreContext, UserInvalidations } from './types.js'

// Every port and the methods the plugin calls on it: checked once, at register.
const PORTS = {
  revocations: ['raise', 'read'],
  refreshTokens: ['create', 'find', 'rotate', 'discard'],
  sessions: ['put', 'list', 'remove', 'clear'],
  counters: ['increment', 'reset'],
  locks: ['lock', 'lockedUntil'],
  challenges: ['put', 'take']
} as const satisfies Record<string, readonly string[]>

const KEY_VALUE_METHODS = ['set', 'get', 'take', 'delete'] as const

const REFRESH_METHODS = [...PORTS.refreshTokens, 'generation']
// A store that keeps no generations cannot tell a lost record from a spent one: it answers as before, a reuse.
const behindEverything = async (): Promise<number> => Number.MAX_SAFE_INTEGER

/** A store with every port present and every call guarded: what the rest of the plugin uses. */
export interface ResolvedStore extends Omit<AuthStore, 'refreshTokens' | 'userInvalidations' | 'attach' | 'detach'> {
  /** With `generation` (a store without it: every token without a record is behind its family, a reuse). */
  refreshTokens: Required<RefreshTokens>
  /**
   * Tells the store it serves this app, once the store's attach has settled (it may wait for its backend); the
   * promise holds the detach that tells it the app is gone.
   */
  attach (context: StoreContext): Promise<() => Promise<void>>
  userInvalidations: UserInvalidations
  /** False for a key-value store without `increment`: its counters are read then written, and can undercount. */
  readonly atomicCounters: boolean
  /** False when the store has no `userInvalidations` of its own: they reach this process only. */
  readonly sharedInvalidations: boolean
  /** The store as given (or made): what `app.jwtAuth.store` returns and the app closes. */
  readonly source: AuthStore | KeyValueStore
}

function fail (message: string): never {
  throw new InvalidOptionError(message)
}

const isFunction = (value: unknown): boolean => typeof value === 'function'

function checkPorts (store: Record<string, unknown>): void {
  for (const [port, methods] of Object.entries(PORTS)) {
    const object = store[port] as Record<string, unknown> | undefined
    if (object === null || typeof object !== 'object') {
      fail(`store.${port} is missing: a store implements ${Object.keys(PORTS).join(', ')}`)
    }
    for (const method of methods) {
      if (!isFunction(object[method])) fail(`store.${port}.${method} must be a function`)
    }
  }
  const peek = (store.revocations as Record<string, unknown>).peek
  if (peek !== undefined && !isFunction(peek)) fail('store.revocations.peek must be a function when given')
  const generation = (store.refreshTokens as Record<string, unknown>).generation
  if (generation !== undefined && !isFunction(generation)) {
    fail('store.refreshTokens.generation must be a function when given')
  }
  const invalidations = store.userInvalidations as Record<string, unknown> | undefined
  if (invalidations !== undefined) {
    if (invalidations === null || !isFunction(invalidations.publish) || !isFunction(invalidations.listen) ||
      typeof invalidations.live !== 'boolean') {
      fail('store.userInvalidations must have publish and listen functions and a boolean live when given')
    }
  }
  for (const hook of ['attach', 'detach'] as const) {
    if (store[hook] !== undefined && !isFunction(store[hook])) fail(`store.${hook} must be a function when given`)
  }
}

/** Invalidations within this process only, for a store without a channel of its own. */
function localInvalidations (): UserInvalidations {
  const listeners: Array<(userId: string | null) => void> = []
  return {
    async publish (userId) { for (const listener of listeners) listener(userId) },
    listen (listener) { listeners.push(listener) },
    live: true
  }
}

/** A port whose every method fails closed: errors and slow answers become StoreUnavailableError (503). */
function guardPort<P extends object> (
  port: P, guard: ReturnType<typeof createStoreGuard>, methods: readonly string[]
): P {
  const guarded: Record<string, unknown> = {}
  for (const method of methods) {
    const call = (port as Record<string, (...args: unknown[]) => unknown>)[method]!
    guarded[method] = (...args: unknown[]) => guard(() => call.apply(port, args))
  }
  return guarded as P
}

/**
 * The shape of a `store` object, checked as at register: a store of ports
 * with a port or method missing fails, naming it (`store.refreshTokens.rotate
 * must be a function`). Also what the testing kit's checkStore runs.
 */
export function checkStoreShape (given: object): 'ports' | 'key-value' {
  const object = given as Record<string, unknown>
  if (object.revocations === undefined && KEY_VALUE_METHODS.every((method) => isFunction(object[method]))) {
    return 'key-value'
  }
  checkPorts(object)
  return 'ports'
}

/**
 * Checks the `store` option and completes it once: a store given in the
 * key-value shape gets the ports built on it, a missing capability fails here
 * naming it, and every call is guarded, so callers never wrap or probe.
 */
export function resolveStore (given: unknown, options: { timeoutMs: number, indexTtlSeconds: number }): ResolvedStore {
  // `given` is an object: the options were checked before.
  const object = given as Record<string, unknown>
  let store: AuthStore
  let atomicCounters = true
  let sharedInvalidations = false
  if (checkStoreShape(object) === 'key-value') {
    store = fromKeyValue(given as KeyValueStore, { indexTtlSeconds: options.indexTtlSeconds })
    atomicCounters = isFunction(object.increment)
  } else {
    store = given as AuthStore
    sharedInvalidations = store.userInvalidations !== undefined
  }
  const guard = createStoreGuard(options.timeoutMs)
  const revocations = guardPort(store.revocations, guard, PORTS.revocations)
  // peek is synchronous and local: nothing to guard.
  const { peek } = store.revocations
  if (peek !== undefined) revocations.peek = peek.bind(store.revocations)
  const invalidations = store.userInvalidations ?? localInvalidations()
  return {
    source: given as AuthStore | KeyValueStore,
    atomicCounters,
    sharedInvalidations,
    async attach (context) {
      await store.attach?.(context)
      return async () => { await store.detach?.() }
    },
    revocations,
    refreshTokens: store.refreshTokens.generation === undefined
      ? { ...guardPort(store.refreshTokens, guard, PORTS.refreshTokens), generation: behindEverything }
      : guardPort(store.refreshTokens as Required<RefreshTokens>, guard, REFRESH_METHODS),
    sessions: guardPort(store.sessions, guard, PORTS.sessions),
    counters: guardPort(store.counters, guard, PORTS.counters),
    locks: guardPort(store.locks, guard, PORTS.locks),
    challenges: guardPort(store.challenges, guard, PORTS.challenges),
    // The store's own object underneath, so that `live` (read on every request) is the store's, not a wrapper's.
    userInvalidations: Object.create(invalidations, {
      publish: { value: (userId: string) => guard(() => invalidations.publish(userId)) }
    }) as UserInvalidations,
    ...(store.close === undefined ? {} : { close: () => store.close!() })
  }
}

/** What the app asks of the store, checked once at register against what the store can do. */
export function checkCapabilities (
  store: ResolvedStore,
  uses: { lockout: boolean, sendLimit: string | undefined, userCache: boolean, mfa: boolean },
  log: StoreContext['log']
): void {
  if (uses.mfa && !store.atomicCounters) {
    fail('mfa needs atomic counters (its lockout, and each TOTP code used once): the key-value store given has no ' +
      'increment; give it increment, or use memoryStore() or redisStore()')
  }
  if (uses.lockout && !store.atomicCounters) {
    fail('routes.lockout needs atomic counters: the key-value store given has no increment, so concurrent guesses ' +
      'could each read the same count; give it increment, or set routes.lockout: false')
  }
  if (uses.sendLimit !== undefined && !store.atomicCounters) {
    fail(`${uses.sendLimit} needs atomic counters: the key-value store given has no increment, so concurrent ` +
      `requests could each read the same count; give it increment, or set ${uses.sendLimit}: false`)
  }
  if (uses.userCache && !store.sharedInvalidations) {
    log.warn({}, 'fastify-jwt-auth: the store has no userInvalidations: invalidateUser reaches the apps of this ' +
      'process only; with several instances, use a store that has them or userCacheTtl: 0')
  }
}
