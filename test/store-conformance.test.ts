// The store conformance suite of fastify-jwt-auth/testing: passed by the memory store, the Redis store (a real
// redis-server, two instances sharing it) and stores of the key-value shape; failed by stores broken one way
// each, on the check about that way only (so no check is one that cannot fail).
import t from 'tap'
import { memoryStore, type AuthStore, type KeyValueStore, type RefreshTokens, type Rotation, type StoreContext } from '../lib/index.js'
import { redisStore } from '../lib/redis.js'
import { checkStore, storeConformance, type StoreConformanceOptions } from '../lib/testing.js'
import { keyValueStore } from './helpers/kv-store.js'
import { sharedRedis } from './helpers/redis.js'
import { failuresOf } from './helpers/conformance.js'

type AnyStore = AuthStore | KeyValueStore

t.test('the memory store passes', (t) => storeConformance({ test: t.test.bind(t), createStore: () => memoryStore() }))

t.test('one memory store seen as two instances passes the checks across instances', (t) => {
  const shared = memoryStore()
  t.teardown(() => shared.close())
  // Views of one store (its ports, not its close): what two apps of one process sharing it would see.
  return storeConformance({ test: t.test.bind(t), createStore: () => ({ ...shared }), shared: true, expiry: false })
})

t.test('the Redis store passes, two instances sharing one Redis', async (t) => {
  const { url } = await sharedRedis()
  await storeConformance({
    test: t.test.bind(t),
    createStore: async () => redisStore({ url, keyPrefix: 'conformance:' }),
    shared: true
  })
})

t.test('a key-value store passes, held to what its shape promises', (t) =>
  storeConformance({ test: t.test.bind(t), createStore: () => keyValueStore(), concurrency: 4 }))

t.test('a key-value store with the atomic methods passes', (t) =>
  storeConformance({ test: t.test.bind(t), createStore: () => keyValueStore({ atomic: true }) }))

for (const atomic of [false, true]) {
  t.test(`one key-value store${atomic ? ' with the atomic methods' : ''} seen as two instances passes`, (t) => {
    const shared = keyValueStore({ atomic })
    return storeConformance({
      test: t.test.bind(t),
      createStore: () => ({ ...shared }),
      closeStore: () => {},
      shared: true,
      expiry: false
    })
  })
}

t.test('a store that logs when attached passes', (t) => storeConformance({
  test: t.test.bind(t),
  createStore: () => Object.assign(memoryStore(), {
    attach ({ log }: StoreContext) {
      log.warn({ policy: 'allkeys-lru' }, 'this store may evict keys')
      log.info({}, 'attached')
    }
  }),
  expiry: false
}))

t.test('a store whose attach waits (for a connection, say) passes: the suite awaits attach, as the plugin does', (t) =>
  storeConformance({
    test: t.test.bind(t),
    createStore: () => {
      const memory = memoryStore()
      const { put } = memory.challenges
      let attaching = false
      return Object.assign(memory, {
        async attach () {
          attaching = true
          await new Promise((resolve) => setTimeout(resolve, 50))
          attaching = false
        },
        challenges: {
          ...memory.challenges,
          put: async (id: string, value: string, ttlSeconds: number) => {
            if (attaching) throw new Error('not connected yet')
            await put(id, value, ttlSeconds)
          }
        }
      })
    },
    expiry: false
  }))

/** A store of ports with none of the optional parts: no peek, no userInvalidations, no attach or detach. */
function bareStore (): AuthStore {
  const memory = memoryStore()
  const { raise, read } = memory.revocations
  const { sessions, counters, locks, challenges } = memory
  const { generation, ...refreshTokens } = memory.refreshTokens
  return { revocations: { raise, read }, refreshTokens, sessions, counters, locks, challenges, close: () => memory.close() }
}

t.test('a store without the optional parts passes', (t) =>
  storeConformance({ test: t.test.bind(t), createStore: bareStore, expiry: false }))

t.test('one store without the optional parts seen as two instances passes', (t) => {
  const shared = bareStore()
  t.teardown(() => shared.close!())
  return storeConformance({ test: t.test.bind(t), createStore: () => ({ ...shared, close: undefined }), shared: true, expiry: false })
})

const failures = (options: Omit<StoreConformanceOptions<AnyStore>, 'test'>): Promise<Map<string, Error>> =>
  failuresOf(storeConformance, options)

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A memory store with some of its ports replaced (the rest as they are). */
function broken (patch: (memory: ReturnType<typeof memoryStore>) => Partial<AuthStore>): () => AuthStore {
  return () => {
    const memory = memoryStore()
    return { ...memory, close: () => memory.close(), ...patch(memory) }
  }
}

/** Revocation markers on a Map, with `raise` given: for raises that break the contract one way. */
function markers (raise: (current: number | undefined, floor: number) => number): AuthStore['revocations'] {
  const values = new Map<string, number>()
  return {
    async raise (scope, id, floor) {
      const value = raise(values.get(`${scope}:${id}`), floor)
      values.set(`${scope}:${id}`, value)
      return value
    },
    async read (scope, id) {
      const value = values.get(`${scope}:${id}`)
      return value === undefined ? null : String(value)
    }
  }
}

const EXPIRY = 'expiry: every kind of entry is gone after its ttl; lifetimes and windows are neither cut nor extended'

const BROKEN: Array<{ name: string, store: () => AnyStore, fails: Record<string, RegExp>, expiry?: true }> = [
  {
    name: 'a rotate that reads, then writes (not atomic)',
    store: broken(({ refreshTokens }) => ({
      refreshTokens: {
        ...refreshTokens,
        async rotate (rotation: Rotation) {
          const before = await refreshTokens.find(rotation.family, rotation.jti)
          await sleep(1)
          await refreshTokens.rotate(rotation)
          return before
        }
      }
    })),
    fails: { 'refresh tokens: of concurrent rotations of one token, exactly one sees it live': /exactly one rotation/ }
  },
  {
    name: 'a raise that goes down to the floor',
    store: broken(() => ({ revocations: markers((current, floor) => floor) })),
    fails: {
      'revocations: raise sets max(current + 1, floor) and returns it; read gives it as a string': /a lower floor/,
      'revocations: concurrent raises of one marker each return their own value': /raise is atomic/
    }
  },
  {
    name: 'a raise that skips a value under concurrency (read, then write)',
    store: broken(() => {
      const values = new Map<string, number>()
      return {
        revocations: {
          async raise (scope, id, floor) {
            const current = values.get(`${scope}:${id}`)
            await sleep(1)
            const value = current === undefined ? floor : Math.max(current + 1, floor)
            values.set(`${scope}:${id}`, value)
            return value
          },
          read: async (scope, id) => values.has(`${scope}:${id}`) ? String(values.get(`${scope}:${id}`)) : null
        }
      }
    }),
    fails: { 'revocations: concurrent raises of one marker each return their own value': /raise is atomic/ }
  },
  {
    name: 'a generation that keeps nothing',
    store: broken(({ refreshTokens }) => ({ refreshTokens: { ...refreshTokens, generation: async () => 0 } })),
    fails: {
      'refresh tokens: generation, when given, is the highest a rotation of the family wrote (0 before any)':
        /a rotation keeps its generation/
    }
  },
  {
    // What a Redis store would answer that read the record on one node and the generation on another.
    name: 'an absent answer with a generation of its own',
    store: broken(({ refreshTokens }) => ({
      refreshTokens: {
        ...refreshTokens,
        find: async (family: string, jti: string) =>
          await refreshTokens.find(family, jti) ?? { state: 'absent' as const, generation: 7 }
      }
    })),
    fails: {
      'refresh tokens: a store that answers `absent` gives the family\'s generation with it':
        /absent: generation 0 before any rotation/
    }
  },
  {
    name: 'a generation that takes the last rotation\'s, lower or not',
    store: broken(({ refreshTokens }) => {
      const generations = new Map<string, number>()
      return {
        refreshTokens: {
          ...refreshTokens,
          async rotate (rotation: Rotation) {
            const before = await refreshTokens.rotate(rotation)
            if (before?.state === 'live') generations.set(rotation.family, rotation.generation)
            return before
          },
          generation: async (family) => generations.get(family) ?? 0
        }
      }
    }),
    fails: {
      'refresh tokens: generation, when given, is the highest a rotation of the family wrote (0 before any)':
        /never lowers it/
    }
  },
  {
    // What the Redis and key-value stores did: after a password change, the kept session's chain went on below the
    // family's generation, whose record then expired while that chain's tokens were live (a reuse taken for unknown).
    name: 'a generation written only when it rises (a rotation below it does not renew it)',
    store: () => {
      const kv = keyValueStore({ atomic: true })
      const { set } = kv
      return Object.assign(kv, {
        async set (key: string, value: string, ttlSeconds: number, kind?: 'durable' | 'ephemeral') {
          if (key.startsWith('rg:') && Number(await kv.get(key)) >= Number(value)) return
          await set(key, value, ttlSeconds, kind)
        }
      })
    },
    expiry: true,
    fails: { [EXPIRY]: /renews its family's generation/ }
  },
  {
    name: 'a peek that answers from a copy that is not current',
    store: broken(({ revocations }) => ({ revocations: { ...revocations, peek: () => null } })),
    fails: { 'revocations: peek, when given, answers as read does or not at all (undefined)': /never stale/ }
  },
  {
    name: 'a rotate that ignores the grace (spent tokens forgotten at once)',
    store: broken(({ refreshTokens }) => ({
      refreshTokens: { ...refreshTokens, rotate: (rotation) => refreshTokens.rotate({ ...rotation, graceSeconds: 0 }) }
    })),
    fails: {
      'refresh tokens: rotate spends a live token for its successor; spent, it only reads': /kept spent/,
      'refresh tokens: grace 0 forgets the spent token at once; a rotation ends its parent\'s grace': /kept spent/,
      'refresh tokens: of concurrent rotations of one token, exactly one sees it live': /the others see it spent/
    }
  },
  {
    name: 'a rotate that keeps the parent',
    store: broken(({ refreshTokens }) => ({
      refreshTokens: { ...refreshTokens, rotate: ({ parent, ...rotation }) => refreshTokens.rotate(rotation) }
    })),
    fails: {
      'refresh tokens: grace 0 forgets the spent token at once; a rotation ends its parent\'s grace': /spent parent/
    }
  },
  {
    name: 'a discard that forgets only live tokens',
    store: broken(({ refreshTokens }) => ({
      refreshTokens: {
        ...refreshTokens,
        async discard (family, jti) {
          if ((await refreshTokens.find(family, jti))?.state === 'live') await refreshTokens.discard(family, jti)
        }
      }
    })),
    fails: {
      'refresh tokens: rotate spends a live token for its successor; spent, it only reads': /forgets a spent token/
    }
  },
  {
    name: 'a session index whose remove does nothing',
    store: broken(({ sessions }) => ({ sessions: { ...sessions, remove: async () => {} } })),
    fails: { 'sessions: put adds or updates a session, list gives them all, remove one, clear all': /remove/ }
  },
  {
    name: 'counters that count twice',
    store: broken(({ counters }) => ({
      counters: { ...counters, increment: async (name, ttl) => { await counters.increment(name, ttl); return counters.increment(name, ttl) } }
    })),
    fails: {
      'counters: increment counts from 1, reset starts over, names are apart': /the first returns 1/,
      'counters: concurrent increments each return their own count': /increment is atomic/
    }
  },
  {
    name: 'locks that answer a string',
    store: broken(({ locks }) => ({
      locks: {
        ...locks,
        async lockedUntil (name) {
          const until = await locks.lockedUntil(name)
          return (until === null ? null : String(until)) as number | null
        }
      }
    })),
    fails: { 'locks: lockedUntil gives the time of the last lock (a number), or null': /as a number/ }
  },
  {
    name: 'a challenge take that does not consume',
    store: broken(() => {
      const values = new Map<string, string>()
      return {
        challenges: {
          put: async (id, value) => { values.set(id, value) },
          take: async (id) => values.get(id) ?? null
        }
      }
    }),
    fails: {
      'challenges: take returns the value put, once': /one-time/,
      'challenges: of concurrent takes of one id, exactly one gets the value': /one take got the value/
    }
  },
  {
    name: 'user invalidations that this instance does not hear',
    store: broken(() => ({ userInvalidations: { publish: async () => {}, listen: () => {}, live: true } })),
    fails: { 'userInvalidations, when given: this instance\'s listeners hear a publish once it resolves': /a listener heard/ }
  },
  {
    name: 'user invalidations heard by the first listener only',
    store: broken(() => {
      let first: ((userId: string | null) => void) | undefined
      return { userInvalidations: { publish: async (id) => first?.(id), listen: (listener) => { first ??= listener }, live: true } }
    }),
    fails: { 'userInvalidations, when given: this instance\'s listeners hear a publish once it resolves': /every listener/ }
  },
  {
    name: 'a raise that cuts a marker\'s lifetime (the key-value shape, advance)',
    store: () => {
      const kv = keyValueStore({ atomic: true })
      return Object.assign(kv, {
        async advance (key: string, floor: number, ttlSeconds: number) {
          const current = kv.entries.get(key)
          const known = current !== undefined && current.expiresAt > Date.now() ? Number(current.value) : -1
          const value = Math.max(floor, known + 1)
          kv.entries.set(key, { value: String(value), expiresAt: Date.now() + ttlSeconds * 1000 })
          return value
        }
      })
    },
    expiry: true,
    fails: { [EXPIRY]: /did not cut the lifetime/ }
  },
  {
    name: 'counters whose window restarts with every increment',
    store: broken(() => {
      const counts = new Map<string, { count: number, until: number }>()
      return {
        counters: {
          async increment (name, ttlSeconds) {
            const current = counts.get(name)
            const count = current !== undefined && current.until > Date.now() ? current.count + 1 : 1
            counts.set(name, { count, until: Date.now() + ttlSeconds * 1000 })
            return count
          },
          reset: async (name) => { counts.delete(name) }
        }
      }
    }),
    expiry: true,
    fails: { [EXPIRY]: /do not extend it/ }
  },
  {
    name: 'challenges that never expire',
    store: broken(({ challenges }) => ({ challenges: { ...challenges, put: (id, value) => challenges.put(id, value, 3600) } })),
    expiry: true,
    fails: { [EXPIRY]: /a challenge expires/ }
  }
]

t.test('broken stores: the suite fails, on the check about what is broken only', async (t) => {
  await Promise.all(BROKEN.map(async ({ name, store, fails, expiry }) => {
    const failed = await failures({ createStore: store, expiry: expiry === true })
    t.same([...failed.keys()].sort(), Object.keys(fails).sort(), `${name}: the failing checks`)
    for (const [check, message] of Object.entries(fails)) {
      t.equal(failed.get(check)?.name, 'AssertionError', `${name}: ${check} fails with an assertion`)
      t.match(failed.get(check)?.message, message, `${name}: ${check}`)
    }
  }))
})

t.test('broken stores across instances: the checks across instances fail', async (t) => {
  // Two instances that do not share their state (each a memory store of its own); and one store whose peek
  // never catches up. Both at once: each waits 2 s for what never comes.
  const shared = memoryStore()
  t.teardown(() => shared.close())
  const [apart, stale] = await Promise.all([
    failures({ createStore: () => memoryStore(), shared: true, expiry: false }),
    failures({
      createStore: () => ({ ...shared, revocations: { ...shared.revocations, peek: () => '41' } }),
      shared: true,
      expiry: false
    })
  ])
  t.match(apart.get('shared: what one instance writes, another reads')?.message, /read on the other/)
  t.match(apart.get('shared: rotations, takes and increments are atomic across instances')?.message, /see it spent/)
  t.match(apart.get('shared: a user invalidation published on one instance reaches the other')?.message,
    /the other instance heard/)
  t.equal(apart.size, 3)
  t.match(stale.get('shared: what one instance writes, another reads')?.message, /not stale/)
})

t.test('a store missing a method fails every check as register would, naming it', async (t) => {
  const withoutRotate: Partial<RefreshTokens> = { ...memoryStore().refreshTokens }
  delete withoutRotate.rotate
  let closed = 0
  const failed = await failures({
    createStore: () => ({ ...memoryStore(), refreshTokens: withoutRotate } as unknown as AuthStore),
    closeStore: async () => {
      closed++
      throw new Error('close failed too')
    },
    expiry: false
  })
  t.ok(failed.size >= 10, `every check failed (${failed.size})`)
  for (const error of failed.values()) {
    t.equal((error as Error & { code?: string }).code, 'FST_JWT_AUTH_INVALID_OPTION')
    t.match(error.message, 'fastify-jwt-auth: store.refreshTokens.rotate must be a function', 'the check\'s error wins')
  }
  t.equal(closed, failed.size, 'the store made for each check is closed all the same')
})

t.test('a store whose close fails fails the check', async (t) => {
  const failed = await failures({
    createStore: () => ({ ...memoryStore(), close: async () => { throw new Error('cannot close') } }),
    expiry: false
  })
  t.ok(failed.size >= 10, `every check failed (${failed.size})`)
  for (const error of failed.values()) t.equal(error.message, 'cannot close')
})

t.test('checkStore: the checks of register', async (t) => {
  t.doesNotThrow(() => checkStore(memoryStore()))
  t.doesNotThrow(() => checkStore(keyValueStore()))
  t.throws(() => checkStore({}), { code: 'FST_JWT_AUTH_INVALID_OPTION', message: /store\.revocations is missing/ })
  const store = memoryStore()
  t.throws(() => checkStore({ ...store, locks: { lock: store.locks.lock } }), /store\.locks\.lockedUntil must be a function/)
  t.throws(() => checkStore({ ...store, userInvalidations: { publish () {}, listen () {} } }),
    /store\.userInvalidations must have publish and listen functions and a boolean live/)
  t.throws(() => checkStore(null), { name: 'TypeError', message: /checkStore: a store is an object/ })
  t.throws(() => checkStore('redis://localhost'), /checkStore: a store is an object/)
})

t.test('storeConformance: its options are checked', async (t) => {
  const test = (): void => {}
  const createStore = (): AuthStore => memoryStore()
  const cases: Array<[unknown, RegExp]> = [
    [undefined, /options must be an object/],
    [{ createStore }, /test must be a function/],
    [{ test }, /createStore must be a function/],
    [{ test, createStore, closeStore: 'yes' }, /closeStore must be a function when given/],
    [{ test, createStore, shared: 'yes' }, /shared must be a boolean/],
    [{ test, createStore, expiry: 0 }, /expiry must be a boolean/],
    [{ test, createStore, concurrency: 1 }, /concurrency must be an integer of at least 2 \(got 1\)/],
    [{ test, createStore, concurrency: 2.5 }, /concurrency must be an integer/],
    [{ test, createStore, createstore: createStore }, /unknown option createstore \(did you mean createStore\?\)/]
  ]
  for (const [options, message] of cases) {
    t.throws(() => storeConformance(options as StoreConformanceOptions), { name: 'TypeError', message: new RegExp('^storeConformance: ' + message.source) })
  }
})

t.test('storeConformance: registers every check at once, and resolves when they have', async (t) => {
  const names: string[] = []
  let settled = 0
  const done = storeConformance({
    test: (name, fn) => {
      names.push(name)
      return fn().then(() => { settled++ })
    },
    createStore: () => memoryStore(),
    expiry: false
  })
  t.equal(names.length, 18, 'registered synchronously, as vitest and mocha need')
  t.equal(settled, 0)
  await done
  t.equal(settled, 18)
  t.equal(new Set(names).size, names.length, 'names are unique')
})
