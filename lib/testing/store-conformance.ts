import { randomUUID } from 'node:crypto'
import { checkKeys } from '../config/check.js'
import type { AuthStore, KeyValueStore } from '../stores/types.js'
import { challengeChecks } from './checks/challenges.js'
import { counterChecks, lockChecks } from './checks/counters.js'
import { expiryChecks } from './checks/expiry.js'
import { invalidationChecks } from './checks/invalidations.js'
import { lifecycleChecks } from './checks/lifecycle.js'
import { refreshTokenChecks } from './checks/refresh-tokens.js'
import { revocationChecks } from './checks/revocations.js'
import { sessionChecks } from './checks/sessions.js'
import { sharedChecks } from './checks/shared.js'
import type { Check } from './checks/support.js'
import { toSubject } from './store-subject.js'

export interface StoreConformanceOptions<Store extends AuthStore | KeyValueStore = AuthStore | KeyValueStore> {
  /**
   * Registers one check, a function that throws (node:assert) when the store
   * fails it: node:test's `test`, tap's `t.test.bind(t)`, vitest's or mocha's `it`.
   */
  test: (name: string, fn: () => Promise<void>) => unknown
  /** A new store for each check (some checks open two); a store of ports or of the key-value shape. */
  createStore: () => Store | Promise<Store>
  /** Closes a store after its check; default `store.close()` when it has one. */
  closeStore?: (store: Store) => unknown
  /**
   * True when the stores createStore makes share their state, as your app's
   * instances would (clients of one database): adds the checks across
   * instances (atomic rotations, user invalidations reaching the other). Default false.
   */
  shared?: boolean
  /** False skips the check that waits for entries to expire (1.5 s). Default true. */
  expiry?: boolean
  /** Calls made at once in the atomicity checks; default 16. */
  concurrency?: number
}

const KNOWN_OPTIONS = ['test', 'createStore', 'closeStore', 'shared', 'expiry', 'concurrency']

function fail (message: string): never {
  throw new TypeError(`storeConformance: ${message}`)
}

function checkOptions (options: StoreConformanceOptions): void {
  if (options === null || typeof options !== 'object') fail('options must be an object: { test, createStore }')
  checkKeys(options, KNOWN_OPTIONS, '', fail)
  for (const name of ['test', 'createStore'] as const) {
    if (typeof options[name] !== 'function') fail(`${name} must be a function`)
  }
  if (options.closeStore !== undefined && typeof options.closeStore !== 'function') {
    fail('closeStore must be a function when given')
  }
  for (const name of ['shared', 'expiry'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') fail(`${name} must be a boolean`)
  }
  const { concurrency } = options
  if (concurrency !== undefined && !(Number.isSafeInteger(concurrency) && concurrency >= 2)) {
    fail(`concurrency must be an integer of at least 2 (got ${String(concurrency)})`)
  }
}

/** Runs one check on the stores it opens, then closes them; a failing check's error wins over a close's. */
async function runCheck<Store extends AuthStore | KeyValueStore> (
  check: Check, options: StoreConformanceOptions<Store>
): Promise<void> {
  const { createStore, closeStore = (store: Store) => store.close?.(), concurrency = 16 } = options
  const opened: Store[] = []
  // One namespace per run: checks may share a store's data (shared: true), never its names.
  const run = randomUUID()
  const context = {
    concurrency,
    id: (what: string) => `${what}-${run}-${randomUUID()}`,
    async open () {
      const store = await createStore()
      opened.push(store)
      return toSubject(store)
    }
  }
  let failure: { error: unknown } | undefined
  try {
    await check.run(context)
  } catch (error) {
    failure = { error }
  }
  for (const store of opened) {
    try {
      await closeStore(store)
    } catch (error) {
      failure ??= { error }
    }
  }
  if (failure !== undefined) throw failure.error
}

/**
 * The store conformance suite: registers, through `test`, one check per
 * behaviour of the store contract (lib/stores/types.ts) that the plugin relies
 * on, each on fresh stores from `createStore`. Checks of an optional part
 * (peek, userInvalidations, attach) pass at once when the store lacks it.
 * Resolves when every registered check has (for runners whose `test` returns
 * a promise: await it inside a parent test).
 */
export function storeConformance<Store extends AuthStore | KeyValueStore> (
  options: StoreConformanceOptions<Store>
): Promise<void> {
  checkOptions(options as unknown as StoreConformanceOptions)
  const checks = [
    ...lifecycleChecks,
    ...revocationChecks,
    ...refreshTokenChecks,
    ...sessionChecks,
    ...counterChecks,
    ...lockChecks,
    ...challengeChecks,
    ...invalidationChecks,
    ...(options.expiry === false ? [] : expiryChecks),
    ...(options.shared === true ? sharedChecks : [])
  ]
  const registered = checks.map((check) => options.test(check.name, () => runCheck(check, options)))
  return Promise.all(registered).then(() => {})
}
