import assert from 'node:assert/strict'
import type { Check } from './support.js'

export const invalidationChecks: Check[] = [
  {
    name: 'userInvalidations, when given: this instance\'s listeners hear a publish once it resolves',
    async run ({ open, id }) {
      const { invalidations } = await open()
      if (invalidations === undefined) return
      assert.equal(typeof invalidations.live, 'boolean', 'live is a boolean')
      const first: Array<string | null> = []
      const second: Array<string | null> = []
      invalidations.listen((userId) => { first.push(userId) })
      invalidations.listen((userId) => { second.push(userId) })
      const user = id('user')
      await invalidations.publish(user)
      // null (a resync: drop every cached user) may come at any time; the user must have come.
      assert.ok(first.includes(user), `publish: a listener heard ${user} (heard ${JSON.stringify(first)})`)
      assert.ok(second.includes(user), 'publish: every listener heard it')
    }
  }
]
