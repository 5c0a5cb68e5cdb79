import assert from 'node:assert/strict'
import { codeOf, created, found, HASH, refused, settle, type UsersCheck } from './support.js'

const TAKEN = 'FST_JWT_AUTH_EMAIL_TAKEN'

export const emailChecks: UsersCheck[] = [
  {
    name: 'email addresses are unique in any case (FST_JWT_AUTH_EMAIL_TAKEN); users without one are many',
    async run ({ users, name, email, uniqueEmail }) {
      if (!uniqueEmail) return
      const address = email('unique')
      const user = await created(users, { username: name('email'), passwordHash: HASH, email: address })
      assert.equal((await found(users.findById(String(user.id))))?.email, address, 'findById: the address as given')
      await refused(users.create({ username: name('email'), passwordHash: HASH, email: address }), TAKEN,
        'the same address')
      await refused(users.create({ username: name('email'), passwordHash: HASH, email: address.toUpperCase() }), TAKEN,
        'the address in upper case')
      for (let index = 0; index < 2; index++) await created(users, { username: name('noemail'), passwordHash: HASH })
    }
  },
  {
    name: 'of concurrent creates with one address, exactly one succeeds; the others are refused',
    async run ({ users, name, email, uniqueEmail, concurrency }) {
      if (!uniqueEmail) return
      const address = email('race')
      const { values, errors } = await settle(Array.from({ length: concurrency }, (_, index) => users.create({
        username: name('emailrace'), passwordHash: HASH, email: index % 2 === 0 ? address : address.toUpperCase()
      })))
      assert.equal(values.length, 1, `one of ${concurrency} concurrent creates succeeds (${values.length} did)`)
      for (const error of errors) assert.equal(codeOf(error), TAKEN, `the others: ${TAKEN} (got ${String(error)})`)
    }
  }
]
