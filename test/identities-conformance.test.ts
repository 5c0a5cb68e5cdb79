// The users identities group (issue 24): an in-memory reference adapter passes its checks, adapters broken one way
// each fail exactly the check about that way, the group is all or none; kyselyUsers' migration 0003 on a database
// at 0001, and its identities going with their user. kyselyUsers passes the group's checks in
// users-conformance.test.ts (SQLite, PostgreSQL, MariaDB).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kysely, type Dialect } from 'kysely'
import { Migrator } from 'kysely/migration'
import t, { type Test } from 'tap'
import { foldLogin, UsernameTakenError, type JwtAuthUsers, type NewIdentity, type UserIdentity } from '../lib/index.js'
import { kyselyMigrations, kyselyUsers, migrateToLatest, MIGRATIONS, sqliteDialect } from '../lib/kysely.js'
import { usersConformance, type UsersConformanceOptions } from '../lib/testing.js'
import { postgresDialect } from './helpers/postgres.js'
import { failuresOf } from './helpers/conformance.js'

const CHECKS = {
  noPassword: 'create without a passwordHash makes a user without a password (identities group)',
  link: 'linkIdentity links a sign-in that findByIdentity finds and listIdentities lists',
  linkOnce: 'a sign-in links to one user, once; a user has one identity of each provider',
  unlink: 'unlinkIdentity unlinks the user\'s identity of a provider; lookups of any string find nothing else',
  byEmail: 'findByEmail finds the user of an address, in any case; nothing for any other string'
}

interface Row { id: string, username: string, passwordHash?: string, email?: string, [field: string]: unknown }

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A complete adapter in memory, with the identities group; `patch` breaks one part of it. */
function memoryUsers (patch: (users: JwtAuthUsers, links: Array<UserIdentity & { id: string }>) => JwtAuthUsers = () => ({})) {
  return (): JwtAuthUsers => {
    const table: Row[] = []
    const links: Array<UserIdentity & { id: string }> = []
    const copy = <T>(value: T): T => structuredClone(value)
    const without = (row: Row | undefined) => {
      if (row === undefined) return null
      const { passwordHash, ...user } = row
      return copy(user)
    }
    const users: JwtAuthUsers = {
      findById: async (id) => without(table.find((row) => row.id === id)),
      findByLogin: async (login) => copy(table.find((row) => foldLogin(row.username) === foldLogin(login)) ?? null) as never,
      create: async (input) => {
        if (table.some((row) => foldLogin(row.username) === foldLogin(input.username))) throw new UsernameTakenError()
        const row = { ...copy(input), id: String(table.length + 1) }
        table.push(row)
        return copy(row)
      },
      findByEmail: async (email) => without(table.find((row) => row.email?.toLowerCase() === email.toLowerCase())),
      findByIdentity: async (provider, subject) =>
        without(table.find((row) => row.id === links.find((link) => link.provider === provider && link.subject === subject)?.id)),
      linkIdentity: async (id, identity: NewIdentity) => {
        if (!table.some((row) => row.id === id)) return false
        const taken = links.some((link) => (link.provider === identity.provider && link.subject === identity.subject) ||
          (link.id === id && link.provider === identity.provider))
        if (taken) return false
        links.push({ ...copy(identity), id, linkedAt: new Date().toISOString() })
        return true
      },
      listIdentities: async (id) => links.filter((link) => link.id === id).map(({ id, ...identity }) => copy(identity)),
      unlinkIdentity: async (id, provider) => {
        const index = links.findIndex((link) => link.id === id && link.provider === provider)
        if (index !== -1) links.splice(index, 1)
        return index !== -1
      }
    }
    return { ...users, ...patch(users, links) }
  }
}

const failures = (options: Omit<UsersConformanceOptions, 'test'>): Promise<Map<string, Error>> =>
  failuresOf(usersConformance, options)

t.test('the in-memory reference adapter with the identities group passes', (t) =>
  usersConformance({ test: t.test.bind(t), createUsers: memoryUsers() }))

const BROKEN: Array<{ name: string, users: () => JwtAuthUsers, fails: Partial<Record<keyof typeof CHECKS, RegExp>> }> = [
  {
    name: 'a create that stores an empty hash for a user without a password',
    users: memoryUsers((users) => ({ create: (input) => users.create!({ ...input, passwordHash: input.passwordHash ?? '' }) })),
    fails: { noPassword: /carries no passwordHash/ }
  },
  {
    name: 'a findByIdentity that ignores the case of subjects',
    users: memoryUsers((users, links) => ({
      findByIdentity: (provider, subject) => {
        const link = links.find((one) => one.provider === provider && one.subject.toLowerCase() === subject.toLowerCase())
        return link === undefined ? null : users.findById!(link.id)
      }
    })),
    fails: { link: /compared exactly/ }
  },
  {
    name: 'a listIdentities without linkedAt',
    users: memoryUsers((users) => ({
      listIdentities: async (id) => (await users.listIdentities!(id)).map((identity) => ({ ...identity, linkedAt: 'now' }))
    })),
    fails: { link: /linkedAt is the ISO 8601 time/ }
  },
  {
    name: 'a linkIdentity that looks, then inserts (not atomic)',
    users: memoryUsers((users, links) => ({
      linkIdentity: async (id, identity) => {
        const free = await users.findById!(id) !== null && !links.some((link) =>
          (link.provider === identity.provider && link.subject === identity.subject) ||
          (link.id === id && link.provider === identity.provider))
        await sleep(1)
        if (free) links.push({ ...identity, id, linkedAt: new Date().toISOString() })
        return free
      }
    })),
    fails: { linkOnce: /exactly one links it/ }
  },
  {
    name: 'a linkIdentity that lets a user link two identities of one provider',
    users: memoryUsers((users, links) => ({
      linkIdentity: async (id, identity) => {
        const free = await users.findById!(id) !== null &&
          !links.some((link) => link.provider === identity.provider && link.subject === identity.subject)
        if (free) links.push({ ...identity, id, linkedAt: new Date().toISOString() })
        return free
      }
    })),
    fails: { linkOnce: /second identity of the same provider/ }
  },
  {
    name: 'an unlinkIdentity that unlinks every user\'s identity of the provider',
    users: memoryUsers((users, links) => ({
      unlinkIdentity: async (id, provider) => {
        const mine = links.some((link) => link.id === id && link.provider === provider)
        for (let index = links.length - 1; index >= 0; index--) if (links[index]!.provider === provider) links.splice(index, 1)
        return mine
      }
    })),
    fails: { unlink: /another user's identity stays/ }
  },
  {
    name: 'a findByEmail that matches the case only',
    users: memoryUsers((users) => ({ findByEmail: async (email) => email === email.toLowerCase() ? await users.findByEmail!(email) : null })),
    fails: { byEmail: /findByEmail\(.*EXAMPLE/ }
  }
]

for (const { name, users, fails } of BROKEN) {
  t.test(`fails: ${name}`, async (t) => {
    const failed = await failures({ createUsers: users })
    const expected = Object.fromEntries(Object.entries(fails).map(([check, why]) => [CHECKS[check as keyof typeof CHECKS], why]))
    t.same([...failed.keys()].sort(), Object.keys(expected).sort(), 'these checks fail, and only these')
    for (const [check, why] of Object.entries(expected)) t.match(failed.get(check)?.message, why, check)
  })
}

t.test('the identities group is all or none; findByEmail is a function when given', async (t) => {
  const { listIdentities, unlinkIdentity, ...partial } = memoryUsers()()
  const failed = await failures({ createUsers: () => partial })
  t.ok(failed.size > 0 && [...failed.values()].every((error) =>
    /identities group is all or none: findByIdentity, linkIdentity given, listIdentities, unlinkIdentity missing/.test(error.message)))
  const byEmail = await failures({ createUsers: () => ({ ...memoryUsers()(), findByEmail: 'no' as never }) })
  t.ok(byEmail.size > 0 && [...byEmail.values()].every((error) => /findByEmail must be a function when given/.test(error.message)))
})

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'jwt-auth-identities-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const DATABASES: Array<{ name: string, dialect: (t: Test) => Promise<Dialect> }> = [
  { name: 'SQLite', dialect: async (t) => sqliteDialect(join(tempDir(t), 'users.sqlite')) },
  {
    name: 'PostgreSQL',
    dialect: async () => await postgresDialect()
  }
]

for (const { name, dialect } of DATABASES) {
  t.test(`${name}: 0003 migrates a database at 0001; a user's identities go with the user`, async (t) => {
    const db = new Kysely<any>({ dialect: await dialect(t) })
    t.teardown(() => db.destroy())
    const migrationTableName = 'fastify_jwt_auth_migration'
    const provider = kyselyMigrations()
    // A database of the release before: 0001 only.
    const before = new Migrator({
      db,
      migrationTableName,
      migrationLockTableName: `${migrationTableName}_lock`,
      provider: { getMigrations: async () => ({ [MIGRATIONS[0]]: (await provider.getMigrations())[MIGRATIONS[0]]! }) }
    })
    t.equal((await before.migrateToLatest()).error, undefined)
    const users = kyselyUsers(db)
    const old = await users.create({ username: 'before', passwordHash: 'h' }) as { id: string }
    t.same((await migrateToLatest(db)).map((result) => result.migrationName), [...MIGRATIONS.slice(1)])
    t.equal(await users.linkIdentity(old.id, { provider: 'p', subject: 's', email: null, emailVerified: false }), true,
      'a user of before links an identity')
    await db.deleteFrom('users').where('id', '=', old.id).execute()
    t.same(await db.selectFrom('user_identities').selectAll().execute(), [], 'deleting the user deletes its identities')
    t.equal(await users.findByIdentity('p', 's'), null)
    t.same(await migrateToLatest(db), [], 'nothing left to run')
    const kept = await users.create({ username: 'kept' }) as { id: string }
    await users.linkIdentity(kept.id, { provider: 'p', subject: 'long', email: `${'x'.repeat(300)}@y.test`, emailVerified: true })
    t.match(await users.listIdentities(kept.id), [{ email: null, emailVerified: true }], 'an address no column holds is not kept')
    await db.schema.dropTable('user_identities').execute()
    const other = await users.create({ username: 'after' }) as { id: string }
    await t.rejects(users.linkIdentity(other.id, { provider: 'p', subject: 's', email: null, emailVerified: false }),
      { message: /user_identities/ }, 'an error of the database that is no refusal passes through')
  })
}
