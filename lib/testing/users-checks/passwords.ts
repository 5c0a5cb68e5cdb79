import assert from 'node:assert/strict'
import { created, found, HASH, settle, type UsersCheck } from './support.js'

export const passwordChecks: UsersCheck[] = [
  {
    name: 'updatePasswordHash stores the new hash; with { previous }, only over that hash, once of concurrent calls',
    async run ({ users, name, concurrency }) {
      const update = users.updatePasswordHash
      if (update === undefined) return
      const [username, other] = [name('hash'), name('hash')]
      const user = await created(users, { username, passwordHash: HASH })
      await created(users, { username: other, passwordHash: HASH })
      const sub = String(user.id)
      const hashOf = async (login: string) => (await found(users.findByLogin(login)))?.passwordHash
      await update(sub, `${HASH}1`)
      assert.equal(await hashOf(username), `${HASH}1`, 'an update without previous stores the hash')
      assert.equal(await hashOf(other), HASH, 'and changes no other user')
      await update(sub, `${HASH}2`, { previous: HASH })
      assert.equal(await hashOf(username), `${HASH}1`,
        'an update whose previous is not the stored hash changes nothing')
      await update(sub, `${HASH}2`, { previous: `${HASH}1` })
      assert.equal(await hashOf(username), `${HASH}2`, 'an update whose previous is the stored hash stores the new one')
      const candidates = Array.from({ length: concurrency }, (_, index) => `${HASH}race${index}`)
      const { errors } = await settle(candidates.map((hash) =>
        Promise.resolve(update(sub, hash, { previous: `${HASH}2` }))))
      assert.deepEqual(errors, [], 'concurrent conditional updates resolve')
      const winner = await hashOf(username)
      assert.ok(candidates.includes(winner as string), 'one of the concurrent conditional updates landed')
      for (const hash of candidates.filter((candidate) => candidate !== winner)) {
        await update(sub, `${hash}late`, { previous: hash })
        assert.equal(await hashOf(username), winner, 'no other stored its hash (its previous no longer matches)')
      }
      await update(`${sub}0`, `${HASH}3`)
      await update(`${sub}0`, `${HASH}3`, { previous: winner as string })
      assert.equal(await hashOf(username), winner, 'an update of an unknown id changes no one')
    }
  },
  {
    name: 'markEmailVerified makes the user\'s emailVerified true (findById and findByLogin)',
    async run ({ users, name, email }) {
      const mark = users.markEmailVerified
      if (mark === undefined) return
      const username = name('verify')
      const user = await created(users, { username, passwordHash: HASH, email: email('verify') })
      const other = await created(users, { username: name('verify'), passwordHash: HASH, email: email('verify') })
      const sub = String(user.id)
      assert.notEqual((await found(users.findById(sub)))?.emailVerified, true, 'a new user is not verified')
      await mark(sub)
      assert.equal((await found(users.findById(sub)))?.emailVerified, true, 'findById: emailVerified is true')
      assert.equal((await found(users.findByLogin(username)))?.emailVerified, true,
        'findByLogin: emailVerified is true')
      assert.notEqual((await found(users.findById(String(other.id))))?.emailVerified, true, 'another user is not')
    }
  }
]
