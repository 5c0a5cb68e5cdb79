// The users passkeys group (issue 23): an in-memory reference adapter passes its checks, adapters broken one way
// each fail exactly the check about that way, the group is all or none; kyselyUsers' migration 0004 on a database at
// 0003, its passkeys going with their user. kyselyUsers passes the group's checks in users-conformance.test.ts
// (SQLite, PostgreSQL, MariaDB).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kysely, PostgresDialect, sql, type Dialect } from 'kysely'
import { Migrator } from 'kysely/migration'
import pg from 'pg'
import t, { type Test } from 'tap'
import { foldLogin, UsernameTakenError, type JwtAuthUsers } from '../../lib/index.js'
import { kyselyMigrations, kyselyUsers, migrateToLatest, MIGRATIONS, sqliteDialect } from '../../lib/kysely.js'
import { usersConformance, type UsersConformanceOptions } from '../../lib/testing.js'
import { memoryPasskeys, type PasskeyTables } from '../helpers/passkey-users.js'
import { sharedPostgres } from '../helpers/postgres.js'

const CHECKS = {
  handle: 'passkeyUserHandle keeps one handle per user (the first candidate, of concurrent calls too); null for none',
  add: 'addPasskey stores a passkey that findPasskey and listPasskeys give back exactly',
  once: 'a credential is stored once, for one user (once of concurrent adds); an unknown user gets none',
  update: 'updatePasskey moves a counter from previousCounter only, once; removePasskey removes the user\'s own only'
}

interface Row { id: string, username: string, passwordHash?: string, [field: string]: unknown }

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

type Group = ReturnType<typeof memoryPasskeys>

/** A complete adapter in memory, with the passkeys group; `patch` breaks one part of it. */
function memoryUsers (patch: (group: Group, tables: PasskeyTables) => JwtAuthUsers = () => ({})) {
  return (): JwtAuthUsers => {
    const table: Row[] = []
    const copy = <T>(value: T): T => structuredClone(value)
    const group = memoryPasskeys((id) => table.some((row) => row.id === id))
    const { tables, ...passkeys } = group
    const users: JwtAuthUsers = {
      findById: async (id) => {
        const row = table.find((one) => one.id === id)
        if (row === undefined) return null
        const { passwordHash, ...user } = row
        return copy(user)
      },
      findByLogin: async (login) => copy(table.find((row) => foldLogin(row.username) === foldLogin(login)) ?? null) as never,
      create: async (input) => {
        if (table.some((row) => foldLogin(row.username) === foldLogin(input.username))) throw new UsernameTakenError()
        const row = { ...copy(input), id: String(table.length + 1) }
        table.push(row)
        return copy(row)
      },
      ...passkeys
    }
    return { ...users, ...patch(group, tables) }
  }
}

async function failures (options: Omit<UsersConformanceOptions, 'test'>): Promise<Map<string, Error>> {
  const failed = new Map<string, Error>()
  await usersConformance({
    ...options,
    test: async (name, fn) => {
      try {
        await fn()
      } catch (error) {
        failed.set(name, error as Error)
      }
    }
  })
  return failed
}

t.test('the in-memory reference adapter with the passkeys group passes', (t) =>
  usersConformance({ test: t.test.bind(t), createUsers: memoryUsers() }))

const BROKEN: Array<{ name: string, users: () => JwtAuthUsers, fails: Partial<Record<keyof typeof CHECKS, RegExp>> }> = [
  {
    name: 'a passkeyUserHandle that stores every candidate (a new handle at each call)',
    users: memoryUsers((group, tables) => ({
      passkeyUserHandle: async (id, candidate) => {
        const known = await group.passkeyUserHandle(id, candidate)
        if (known !== null) tables.handles.set(id, candidate)
        return known === null ? null : candidate
      }
    })),
    fails: { handle: /all resolve to one handle/ }
  },
  {
    name: 'a passkeyUserHandle that looks, then stores (not atomic)',
    users: memoryUsers((group, tables) => ({
      passkeyUserHandle: async (id, candidate) => {
        const had = tables.handles.get(id)
        await sleep(1)
        const handle = await group.passkeyUserHandle(id, candidate)
        if (handle !== null && had === undefined) tables.handles.set(id, candidate)
        return handle === null ? null : had ?? candidate
      }
    })),
    fails: { handle: /all resolve to one handle/ }
  },
  {
    name: 'a findPasskey that ignores the case of credential ids',
    users: memoryUsers((group, tables) => ({
      findPasskey: async (credentialId) => {
        const id = [...tables.passkeys.keys()].find((key) => key.toLowerCase() === credentialId.toLowerCase())
        return id === undefined ? null : await group.findPasskey(id)
      }
    })),
    fails: { add: /compared exactly/ }
  },
  {
    name: 'a listPasskeys that gives the counter as a string (as a bigint column may)',
    users: memoryUsers((group) => ({
      listPasskeys: async (id) => (await group.listPasskeys(id)).map((one) => ({ ...one, counter: String(one.counter) as never }))
    })),
    fails: { add: /listPasskeys lists them/, update: /another user's passkey stays/ }
  },
  {
    name: 'an addPasskey that lets another user store a credential stored already',
    users: memoryUsers((group, tables) => ({
      addPasskey: async (id, passkey) => {
        if (tables.passkeys.get(passkey.id)?.userId === id) return false
        tables.passkeys.delete(passkey.id)
        return await group.addPasskey(id, passkey)
      }
    })),
    fails: { once: /for another user/ }
  },
  {
    name: 'an addPasskey that looks, then inserts (not atomic)',
    users: memoryUsers((group, tables) => ({
      addPasskey: async (id, passkey) => {
        const free = !tables.passkeys.has(passkey.id)
        await sleep(1)
        if (free) tables.passkeys.delete(passkey.id)
        return free && await group.addPasskey(id, passkey)
      }
    })),
    fails: { once: /exactly one stores it/ }
  },
  {
    name: 'an updatePasskey that ignores previousCounter',
    users: memoryUsers((group, tables) => ({
      updatePasskey: async (credentialId, use) => {
        const found = tables.passkeys.get(credentialId)
        return found !== undefined && await group.updatePasskey(credentialId, use, { previousCounter: found.counter })
      }
    })),
    fails: { update: /over another counter/ }
  },
  {
    name: 'a removePasskey that removes another user\'s passkey',
    users: memoryUsers((group, tables) => ({
      removePasskey: async (id, credentialId) => tables.passkeys.delete(credentialId)
    })),
    fails: { update: /another user's passkey: false/ }
  }
]

for (const { name, users, fails } of BROKEN) {
  t.test(`fails: ${name}`, async (t) => {
    const failed = await failures({ createUsers: users })
    const passkeyChecks = new Set(Object.values(CHECKS))
    const expected = Object.fromEntries(Object.entries(fails).map(([check, why]) => [CHECKS[check as keyof typeof CHECKS], why]))
    t.same([...failed.keys()].filter((check) => passkeyChecks.has(check)).sort(), Object.keys(expected).sort(),
      'these checks fail, and only these')
    for (const [check, why] of Object.entries(expected)) t.match(failed.get(check)?.message, why, check)
  })
}

t.test('the passkeys group is all or none', async (t) => {
  const { updatePasskey, removePasskey, ...partial } = memoryUsers()()
  const failed = await failures({ createUsers: () => partial })
  t.ok(failed.size > 0 && [...failed.values()].every((error) =>
    /passkeys group is all or none: passkeyUserHandle, listPasskeys, findPasskey, addPasskey given, updatePasskey, removePasskey missing/
      .test(error.message)))
})

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'jwt-auth-passkeys-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const DATABASES: Array<{ name: string, dialect: (t: Test) => Promise<Dialect> }> = [
  { name: 'SQLite', dialect: async (t) => sqliteDialect(join(tempDir(t), 'users.sqlite')) },
  {
    name: 'PostgreSQL',
    dialect: async () => {
      const pool = new pg.Pool({ connectionString: await (await sharedPostgres()).createDatabase(), max: 4 })
      pool.on('error', () => {})
      return new PostgresDialect({ pool })
    }
  }
]

const key = (id: string) => ({
  id, publicKey: 'pk', counter: 0, transports: ['usb'], backedUp: false, name: 'Key', createdAt: new Date().toISOString(), lastUsedAt: null
})

for (const { name, dialect } of DATABASES) {
  t.test(`${name}: 0004 migrates a database at 0003; a user's passkeys and handle go with the user`, async (t) => {
    const db = new Kysely<any>({ dialect: await dialect(t) })
    t.teardown(() => db.destroy())
    const migrationTableName = 'fastify_jwt_auth_migration'
    const all = await kyselyMigrations().getMigrations()
    const before = new Migrator({
      db,
      migrationTableName,
      migrationLockTableName: `${migrationTableName}_lock`,
      provider: { getMigrations: async () => Object.fromEntries(MIGRATIONS.slice(0, 3).map((one) => [one, all[one]!])) }
    })
    t.equal((await before.migrateToLatest()).error, undefined)
    const users = kyselyUsers(db)
    const old = await users.create({ username: 'before', passwordHash: 'h' }) as { id: string }
    t.same((await migrateToLatest(db)).map((result) => result.migrationName), [MIGRATIONS[3]])
    t.ok(await users.passkeyUserHandle(old.id, 'handle-of-before'))
    t.equal(await users.addPasskey(old.id, key('cred-before')), true, 'a user of before adds a passkey')
    t.equal(await users.addPasskey(old.id, { ...key('long'), name: 'x'.repeat(65) }), false, 'a name no column holds')
    t.equal(await users.passkeyUserHandle(old.id, 'x'.repeat(87)), null, 'a candidate no column holds')
    t.equal(await users.updatePasskey('cred-before', { counter: 1.5, backedUp: true, lastUsedAt: 'now' }, { previousCounter: 0 }),
      false, 'a counter that is not an integer')
    await db.deleteFrom('users').where('id', '=', old.id).execute()
    t.same(await db.selectFrom('user_passkeys').selectAll().execute(), [], 'deleting the user deletes its passkeys')
    t.same(await db.selectFrom('user_passkey_handles').selectAll().execute(), [], 'and its handle')
    const other = await users.create({ username: 'after', passwordHash: 'h' }) as { id: string }
    if (name === 'SQLite') {
      await sql`create trigger refuse before insert on user_passkey_handles begin select raise(abort, 'refused'); end`
        .execute(db)
      await t.rejects(users.passkeyUserHandle(other.id, 'h1'), { message: /refused/ }, 'a failed insert passes through')
      await sql`drop trigger refuse`.execute(db)
    }
    await db.schema.dropTable('user_passkeys').execute()
    await users.passkeyUserHandle(other.id, 'handle-of-after')
    await t.rejects(users.addPasskey(other.id, key('c')), { message: /user_passkeys/ },
      'an error of the database that is no refusal passes through')
    await db.schema.dropTable('user_passkey_handles').execute()
    await t.rejects(users.passkeyUserHandle(other.id, 'h2'), { message: /user_passkey_handles/ })
  })
}
