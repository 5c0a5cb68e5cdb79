import assert from 'node:assert/strict'
import { race, type Check } from './support.js'

export const counterChecks: Check[] = [
  {
    name: 'counters: increment counts from 1, reset starts over, names are apart',
    async run ({ open, id }) {
      const subject = await open()
      // The key-value shape without increment: the plugin refuses the counters' users (lockout, perAccount).
      if (!subject.atomicCounters) return
      const { counters } = subject.ports
      const [name, other] = [id('counter'), id('counter')]
      assert.equal(await counters.increment(name, 60), 1, 'increment: the first returns 1')
      assert.equal(await counters.increment(name, 60), 2, 'increment: then 2')
      assert.equal(await counters.increment(other, 60), 1, 'increment: another name counts apart')
      await counters.reset(name)
      assert.equal(await counters.increment(name, 60), 1, 'reset: the next increment returns 1')
      await counters.reset(id('never'))
    }
  },
  {
    name: 'counters: concurrent increments each return their own count',
    async run ({ open, id, concurrency }) {
      const subject = await open()
      if (!subject.atomicCounters) return
      const name = id('counter')
      const counts = await race(concurrency, () => subject.ports.counters.increment(name, 60))
      const expected = Array.from({ length: concurrency }, (_, index) => index + 1)
      assert.deepEqual([...counts].sort((a, b) => a - b), expected, 'increment is atomic: no two calls got one count')
    }
  }
]

export const lockChecks: Check[] = [
  {
    name: 'locks: lockedUntil gives the time of the last lock (a number), or null',
    async run ({ open, id }) {
      const { locks } = (await open()).ports
      const name = id('lock')
      const until = Date.now() + 30_000
      assert.equal(await locks.lockedUntil(name), null, 'lockedUntil: null when never locked')
      await locks.lock(name, until, 60)
      assert.equal(await locks.lockedUntil(name), until, 'lockedUntil: the time given, in ms, as a number')
      await locks.lock(name, until + 5000, 60)
      assert.equal(await locks.lockedUntil(name), until + 5000, 'lock again: the new time')
      assert.equal(await locks.lockedUntil(id('lock')), null, 'another name is not locked')
    }
  }
]
