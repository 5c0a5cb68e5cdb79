import type { NewUser } from '../config/options.js'
import { UsernameTakenError } from '../errors.js'
import { foldLogin } from '../users/login-name.js'

/** What fakeUsers needs of a record: an id (a token's `sub` is `String(id)`); any other fields are kept. */
export interface FakeUserRecord {
  id: string | number
  /** What `findByLogin` matches, exactly; unique once folded (`foldLogin`), as a unique index would keep it. */
  username?: string
  roles?: readonly string[]
}

/** A user lookup for the plugin's `users` option, over records held in memory. */
export interface FakeUsers<User extends FakeUserRecord = FakeUserRecord> {
  /** The record whose `String(id)` is `id` (a token's `sub`), as a copy; null when there is none. */
  findById (id: string): Promise<User | null>
  /**
   * The record whose `username` is `login`, as a copy; null when there is none. The login route verifies its
   * `passwordHash` with argon2: give one (from `hashPassword`) only to records that log in through the routes.
   */
  findByLogin (login: string): Promise<(User & { passwordHash: string }) | null>
  /**
   * Adds a record (POST /register): the input with a new numeric id, as a copy. A username that folds like a
   * record's (`Alice` next to `alice`) is refused with `UsernameTakenError`, as a unique index on the folded name
   * refuses it, at once: of registrations of one name at the same time, one succeeds. The record joins this
   * fakeUsers' table, not the array given; it has the fields of the input only (typed as a record all the same).
   */
  create (input: NewUser): Promise<User>
}

function fail (message: string): never {
  throw new TypeError(`fakeUsers: ${message}`)
}

function checkRecord (record: unknown, index: number): void {
  if (record === null || typeof record !== 'object') fail(`records[${index}] must be an object`)
  const { id, username, roles } = record as Record<string, unknown>
  if ((typeof id !== 'string' && typeof id !== 'number') || String(id) === '') {
    fail(`records[${index}].id must be a non-empty string or a number`)
  }
  if (username !== undefined && typeof username !== 'string') fail(`records[${index}].username must be a string`)
  if (roles !== undefined && !(Array.isArray(roles) && roles.every((role) => typeof role === 'string'))) {
    fail(`records[${index}].roles must be an array of strings`)
  }
  // Lookups return copies: a record that cannot be copied fails here, not in the middle of a request.
  try {
    structuredClone(record)
  } catch (error) {
    fail(`records[${index}] must be plain data, copied with structuredClone (${(error as Error).message})`)
  }
}

function checkUnique (records: readonly FakeUserRecord[], key: 'id' | 'username'): void {
  const seen = new Map<string, string>()
  for (const record of records) {
    if (record[key] === undefined) continue
    const value = String(record[key])
    // Usernames are unique once folded, as the plugin asks of a users table.
    const unique = key === 'username' ? foldLogin(value) : value
    const other = seen.get(unique)
    if (other === value) fail(`two records have the ${key} ${JSON.stringify(value)}`)
    if (other !== undefined) fail(`the usernames ${JSON.stringify(other)} and ${JSON.stringify(value)} fold alike`)
    seen.set(unique, value)
  }
}

/**
 * `users.findById`, `users.findByLogin` and `users.create` over plain
 * records, for tests: no database, no password hashing. The records are the
 * table: a test that changes one (say `alice.roles = ['admin']`) changes what
 * the next lookup finds, as an UPDATE would (the plugin's user cache may
 * still hold the old one: call `app.jwtAuth.invalidateUser(id)`, as after a
 * real update). The list is copied (a record pushed to it later is not found;
 * `create` adds to the copy), and every lookup returns a deep copy, so
 * nothing a route does to `request.user` reaches the records. Records are
 * plain data (structuredClone).
 */
export function fakeUsers<User extends FakeUserRecord> (records: readonly User[]): FakeUsers<User> {
  if (!Array.isArray(records)) fail('records must be an array of { id, username?, roles? } objects')
  records.forEach(checkRecord)
  checkUnique(records, 'id')
  checkUnique(records, 'username')
  const table = [...records]
  const copy = <T>(record: T | undefined): T | null => record === undefined ? null : structuredClone(record)
  return {
    // The plugin passes `sub`, a string; String() also lets a test pass a numeric id.
    findById: async (id) => copy(table.find((record) => String(record.id) === String(id))),
    findByLogin: async (login) => copy(table.find((record) => record.username === login)) as
      (User & { passwordHash: string }) | null,
    create: async (input) => {
      const folded = foldLogin(input.username)
      if (table.some((record) => record.username !== undefined && foldLogin(record.username) === folded)) {
        throw new UsernameTakenError()
      }
      let id = table.length + 1
      while (table.some((record) => String(record.id) === String(id))) id++
      const record = structuredClone({ ...input, id }) as unknown as User
      table.push(record)
      return structuredClone(record)
    }
  }
}
