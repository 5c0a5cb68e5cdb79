import assert from 'node:assert/strict'
import { family, type Check } from './support.js'

export const sessionChecks: Check[] = [
  {
    name: 'sessions: put adds or updates a session, list gives them all, remove one, clear all',
    async run ({ open, id }) {
      const { sessions } = (await open()).ports
      const [user, other] = [id('user'), id('user')]
      const [first, second] = [family(), family()]
      // A copy: a store may answer with an object of another prototype (a Redis hash reply).
      const list = async (userId: string): Promise<Record<string, string>> => ({ ...await sessions.list(userId) })
      assert.deepEqual(await list(user), {}, 'list: {} for a user without sessions')
      await sessions.put(user, first, '{"ip":"192.0.2.1"}', 60)
      await sessions.put(user, second, '{"ip":"192.0.2.2"}', 60)
      await sessions.put(user, first, '{"ip":"192.0.2.3"}', 60)
      assert.deepEqual(await list(user), { [first]: '{"ip":"192.0.2.3"}', [second]: '{"ip":"192.0.2.2"}' },
        'list: every session of the user, family -> session, as last put')
      assert.deepEqual(await list(other), {}, 'list: another user\'s index is apart')
      await sessions.remove(user, first)
      assert.deepEqual(await list(user), { [second]: '{"ip":"192.0.2.2"}' }, 'remove: that session only')
      await sessions.remove(user, family())
      await sessions.remove(other, first)
      await sessions.clear(user)
      assert.deepEqual(await list(user), {}, 'clear: every session of the user')
      await sessions.clear(other)
    }
  }
]
