import assert from 'node:assert/strict'
import { foldLogin } from '../../users/login-name.js'
import { codeOf, created, found, HASH, refused, settle, type UsersCheck } from './support.js'

const TAKEN = 'FST_JWT_AUTH_USERNAME_TAKEN'

/** Spellings that fold like `name` (ASCII lower case): upper case, full-width, an accent, spaces inside. */
export function lookAlikes (name: string): string[] {
  const fullWidth = [...name].map((char) => String.fromCodePoint(char.codePointAt(0)! + 0xFEE0)).join('')
  return [
    name.toUpperCase(), fullWidth, `${name[0]}\u0301${name.slice(1)}`, `${name[0]!.toUpperCase()}${name.slice(1)}`
  ]
}

export const nameChecks: UsersCheck[] = [
  {
    name: 'a taken username is refused with FST_JWT_AUTH_USERNAME_TAKEN, and so is each of its look-alikes',
    async run ({ users, name }) {
      const username = name('taken')
      const first = await created(users, { username, passwordHash: HASH })
      await refused(users.create({ username, passwordHash: HASH }), TAKEN, 'the same name again')
      for (const lookAlike of lookAlikes(username)) {
        assert.equal(foldLogin(lookAlike), username, `${JSON.stringify(lookAlike)} folds like ${username}`)
        await refused(users.create({ username: lookAlike, passwordHash: 'other' }), TAKEN, JSON.stringify(lookAlike))
      }
      const still = await found(users.findByLogin(username))
      assert.equal(String(still?.id), String(first.id), 'the name still finds the first user')
      assert.equal(still?.passwordHash, HASH, 'with its own hash')
    }
  },
  {
    name: 'of concurrent creates of one name and its look-alikes, exactly one succeeds; the others are refused',
    async run ({ users, name, concurrency }) {
      const username = name('race')
      const spellings = [username, ...lookAlikes(username)]
      const { values, errors } = await settle(Array.from({ length: concurrency }, (_, index) =>
        users.create({ username: spellings[index % spellings.length]!, passwordHash: `${HASH}${index}` })))
      assert.equal(values.length, 1, `one of ${concurrency} concurrent creates succeeds (${values.length} did)`)
      for (const error of errors) assert.equal(codeOf(error), TAKEN, `the others: ${TAKEN} (got ${String(error)})`)
    }
  }
]
