import assert from 'node:assert/strict'
import { race, type Check } from './support.js'

export const revocationChecks: Check[] = [
  {
    name: 'revocations: raise sets max(current + 1, floor) and returns it; read gives it as a string',
    async run ({ open, id }) {
      const { revocations } = (await open()).ports
      const user = id('user')
      assert.equal(await revocations.read('user', user), null, 'read: null for a marker never raised')
      assert.equal(await revocations.raise('user', user, 1000, 60), 1000, 'raise: a new marker takes the floor')
      assert.equal(await revocations.raise('user', user, 5, 60), 1001, 'raise: a lower floor still adds one')
      assert.equal(await revocations.raise('user', user, 5000, 60), 5000, 'raise: a higher floor wins')
      assert.equal(await revocations.read('user', user), '5000', 'read: the value, as a string')
      assert.equal(await revocations.read('family', user), null, 'a family marker is not the user marker of that id')
      assert.equal(await revocations.read('user', id('user')), null, 'read: another id has no marker')
      // What the plugin passes: the time in ms, a 13-digit integer, kept exactly.
      const family = id('family')
      const now = Date.now()
      assert.equal(await revocations.raise('family', family, now, 60), now, 'raise: a floor in ms is kept exactly')
      assert.equal(await revocations.raise('family', family, now, 60), now + 1, 'raise: the same floor again adds one')
      assert.equal(await revocations.read('family', family), String(now + 1))
    }
  },
  {
    name: 'revocations: concurrent raises of one marker each return their own value',
    async run ({ open, id, concurrency }) {
      const subject = await open()
      // The key-value shape without advance reads then writes (documented: markers hold times).
      if (!subject.atomicMarkers) return
      const { revocations } = subject.ports
      const marker = id('family')
      await revocations.raise('family', marker, 100, 60)
      const values = await race(concurrency, () => revocations.raise('family', marker, 1, 60))
      const expected = Array.from({ length: concurrency }, (_, index) => 101 + index)
      assert.deepEqual([...values].sort((a, b) => a - b), expected, 'raise is atomic: no two calls got one value')
      assert.equal(await revocations.read('family', marker), String(100 + concurrency))
    }
  },
  {
    name: 'revocations: peek, when given, answers as read does or not at all (undefined)',
    async run ({ open, id }) {
      const { revocations } = (await open()).ports
      if (revocations.peek === undefined) return
      const marker = id('user')
      const before = revocations.peek('user', marker)
      assert.ok(before === null || before === undefined, `peek: null or undefined before any raise (got ${before})`)
      for (const expected of ['7', '8']) {
        await revocations.raise('user', marker, 7, 60)
        const seen = revocations.peek('user', marker)
        assert.ok(seen === undefined || seen === expected,
          `peek after this store's raise: undefined or the new value ${expected} (got ${String(seen)}): never stale`)
      }
    }
  }
]
