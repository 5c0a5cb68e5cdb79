import assert from 'node:assert/strict'
import type { StoreSubject } from '../store-subject.js'
import { known, rotation } from './refresh-tokens.js'
import { eventually, family, race, type Check, type CheckContext } from './support.js'

// What travels between instances (pub/sub) gets this long.
const TRAVEL_MS = 2000
// A subscription that connects as the store is made may take a moment to be live.
const LIVE_WITHIN_MS = 5000

/** Half the calls on one instance, half on the other. */
const either = (a: StoreSubject, b: StoreSubject, index: number): StoreSubject => index % 2 === 0 ? a : b

async function atomicAcross (a: StoreSubject, b: StoreSubject, { id, concurrency }: CheckContext): Promise<void> {
  const fam = family()
  const token = id('token')
  await a.ports.refreshTokens.create(fam, token, 'record', 60)
  const rotations = await race(concurrency, (index) =>
    either(a, b, index).ports.refreshTokens.rotate(rotation(fam, token, id('next'))))
  assert.equal(rotations.filter((state) => state?.state === 'live').length, 1,
    'of concurrent rotations on both instances, exactly one sees the token live')
  // No record (null or absent) is the key-value shape's take-then-set losing a race: only a strict store must not.
  const others = rotations.filter((state) => state?.state !== 'live' && (known(state) !== null || a.strictRotation))
  assert.ok(others.every((state) => state?.state === 'spent'), 'the others, on either instance, see it spent')
  assert.equal((await b.ports.refreshTokens.find(fam, token))?.state, 'spent', 'the other instance sees it spent')
  const challenge = id('challenge')
  await a.ports.challenges.put(challenge, 'answer', 60)
  const taken = await race(concurrency, (index) => either(a, b, index).ports.challenges.take(challenge))
  assert.equal(taken.filter((value) => value !== null).length, 1, 'of concurrent takes on both, one gets the value')
  if (!a.atomicCounters) return
  const counter = id('counter')
  const counts = await race(concurrency, (index) => either(a, b, index).ports.counters.increment(counter, 60))
  assert.equal(new Set(counts).size, concurrency, 'concurrent increments on both instances each get their own count')
}

export const sharedChecks: Check[] = [
  {
    name: 'shared: what one instance writes, another reads',
    async run ({ open, id }) {
      const [a, b] = [await open(), await open()]
      const [marker, user, lock] = [id('user'), id('user'), id('lock')]
      const fam = family()
      await a.ports.revocations.raise('user', marker, 42, 60)
      assert.equal(await b.ports.revocations.read('user', marker), '42', 'a marker raised on one is read on the other')
      const { revocations } = b.ports
      if (revocations.peek !== undefined) {
        const current = (): boolean => {
          const seen = revocations.peek!('user', marker)
          return seen === undefined || seen === '42'
        }
        assert.ok(await eventually(current, TRAVEL_MS), 'the other\'s peek soon answers 42 or undefined, not stale')
      }
      await a.ports.sessions.put(user, fam, 'session', 60)
      assert.deepEqual({ ...await b.ports.sessions.list(user) }, { [fam]: 'session' },
        'a session put on one is listed on the other')
      await a.ports.locks.lock(lock, 12345, 60)
      assert.equal(await b.ports.locks.lockedUntil(lock), 12345, 'a lock taken on one holds on the other')
    }
  },
  {
    name: 'shared: rotations, takes and increments are atomic across instances',
    async run (context) {
      await atomicAcross(await context.open(), await context.open(), context)
    }
  },
  {
    name: 'shared: a user invalidation published on one instance reaches the other',
    async run ({ open, id }) {
      const [a, b] = [await open(), await open()]
      if (a.invalidations === undefined || b.invalidations === undefined) return
      const [from, to] = [a.invalidations, b.invalidations]
      assert.ok(await eventually(() => from.live && to.live, LIVE_WITHIN_MS),
        `userInvalidations.live is true on both instances within ${LIVE_WITHIN_MS} ms`)
      const heard: Array<string | null> = []
      to.listen((userId) => { heard.push(userId) })
      const user = id('user')
      await from.publish(user)
      assert.ok(await eventually(() => heard.includes(user), TRAVEL_MS),
        `the other instance heard ${user} within ${TRAVEL_MS} ms (heard ${JSON.stringify(heard)})`)
    }
  }
]
