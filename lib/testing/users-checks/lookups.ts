import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { created, found, HASH, type UsersCheck } from './support.js'

export const lookupChecks: UsersCheck[] = [
  {
    name: 'create returns the user, which findById (by String(id)) and findByLogin (with its hash) find',
    async run ({ users, name }) {
      const username = name('lookup')
      const user = await created(users, { username, passwordHash: HASH })
      assert.equal(user.username, username, 'create: the username as given')
      if (user.roles !== undefined) {
        assert.ok(Array.isArray(user.roles) && user.roles.every((role) => typeof role === 'string'),
          'roles, when given, are an array of strings')
      }
      const sub = String(user.id)
      const byId = await found(users.findById(sub))
      assert.ok(byId !== null, 'findById(String(id)) finds the user')
      assert.equal(String(byId.id), sub, 'findById: the same id')
      assert.equal(byId.username, username, 'findById: the same username')
      if (byId.passwordHash !== undefined) {
        assert.equal(byId.passwordHash, HASH, 'findById: a hash, if any, is the one stored')
      }
      const byLogin = await found(users.findByLogin(username))
      assert.ok(byLogin !== null, 'findByLogin(username) finds the user')
      assert.equal(String(byLogin.id), sub, 'findByLogin: the same id')
      assert.equal(byLogin.passwordHash, HASH, 'findByLogin: the user carries the passwordHash given to create')
      // What a route does to request.user must not reach the next lookup.
      byId.username = 'changed'
      byLogin.passwordHash = 'changed'
      assert.equal((await found(users.findById(sub)))?.username, username, 'findById returns a copy each time')
      assert.equal((await found(users.findByLogin(username)))?.passwordHash, HASH, 'findByLogin returns a copy')
    }
  },
  {
    name: 'lookups of unknown ids and names find nothing (null or undefined), without an error',
    async run ({ users, name }) {
      await created(users, { username: name('known'), passwordHash: HASH })
      for (const id of [randomUUID(), '0', '', '-1', 'null', 'undefined', '1 OR 1=1']) {
        assert.equal(await found(users.findById(id)), null, `findById(${JSON.stringify(id)}) finds nothing`)
      }
      for (const login of [name('unknown'), '', '%', '_', '*', '.*', "' OR '1'='1"]) {
        assert.equal(await found(users.findByLogin(login)), null, `findByLogin(${JSON.stringify(login)}) finds nothing`)
      }
    }
  }
]
