// The users conformance suite of fastify-jwt-auth/testing: passed by kyselyUsers on SQLite (node:sqlite), on a real
// PostgreSQL server the test starts and on MariaDB, and by the testing kit's fakeUsers; failed by adapters broken
// one way each, on the checks about that way only (so no check is one that cannot fail).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kysely, MysqlDialect, sql, type Dialect } from 'kysely'
import t, { type Test } from 'tap'
import { EmailTakenError, foldLogin, UsernameTakenError, type JwtAuthUsers } from '../lib/index.js'
import { kyselyUsers, migrateToLatest, sqliteDialect } from '../lib/kysely.js'
import { fakeUsers, usersConformance, type UsersConformanceOptions } from '../lib/testing.js'
import { mysqlDatabase, mysqlPool } from './helpers/mysql.js'
import { postgresDialect } from './helpers/postgres.js'
import { failuresOf } from './helpers/conformance.js'

const PROFILE = ['displayName', 'locale']

/**
 * The suite on kyselyUsers over `dialect`, migrated, with the app's own display_name column (of type `column`), so
 * that both ways of keeping a profile field are checked; the database is destroyed at the end.
 */
async function passes (t: Test, dialect: Dialect, column: string, concurrency: number): Promise<void> {
  const db = new Kysely<any>({ dialect })
  t.teardown(() => db.destroy())
  await migrateToLatest(db)
  // The app's own migration: a profile field in a column of its own.
  await db.schema.alterTable('users').addColumn('display_name', sql.raw(column)).execute()
  await usersConformance({
    test: t.test.bind(t),
    createUsers: () => kyselyUsers(db, { columns: { displayName: 'display_name' } }),
    profile: PROFILE,
    uniqueEmail: true,
    concurrency
  })
}

t.test('kyselyUsers passes on SQLite (node:sqlite, a file)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'jwt-auth-sqlite-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  await passes(t, sqliteDialect(join(dir, 'users.sqlite')), 'text', 16)
})

t.test('kyselyUsers passes on PostgreSQL', async (t) => {
  await passes(t, await postgresDialect(16), 'varchar(100)', 16)
})

t.test('kyselyUsers passes on MySQL (MariaDB)', async (t) => {
  await passes(t, new MysqlDialect({ pool: mysqlPool(await mysqlDatabase(t)) }), 'varchar(100)', 8)
})

t.test('fakeUsers passes (no updatePasswordHash, no unique email: those checks pass at once)', (t) =>
  usersConformance({ test: t.test.bind(t), createUsers: () => fakeUsers([]), profile: PROFILE }))

interface Record {
  id: string
  username: string
  passwordHash: string
  email?: string
  emailVerified: boolean
  [field: string]: unknown
}

// Every callback but the identities and passkeys groups' (test/identities-conformance.test.ts and
// test/passkeys/conformance.test.ts have adapters with them).
type BaseUsers = Required<Omit<JwtAuthUsers,
  'findByIdentity' | 'linkIdentity' | 'listIdentities' | 'unlinkIdentity' | 'findByEmail' | 'passkeyUserHandle' |
  'listPasskeys' | 'findPasskey' | 'addPasskey' | 'updatePasskey' | 'removePasskey'>>

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface Flaws {
  /** How names compare for uniqueness and lookups; default foldLogin. */
  fold?: (login: string) => string
  /** How addresses compare; default lower-cased. */
  emailKey?: (email: string) => string
  /** A wait between the uniqueness check and the insert. */
  racy?: boolean
  /** updatePasswordHash and updateTotp ignore previous. */
  ignorePrevious?: boolean
}

interface Factors { totp: string | null, recoveryCodes: string[] }

/**
 * A complete adapter in memory, as the contract asks: copies out, folded unique names, unique addresses in any case,
 * a conditional hash update. `flaws` and `patch` break one part of it.
 */
function memoryUsers (flaws: Flaws = {}, patch: (table: Record[], users: BaseUsers) => Partial<JwtAuthUsers> = () => ({})) {
  const { fold = foldLogin, emailKey = (email: string) => email.toLowerCase(), racy = false } = flaws
  return (): JwtAuthUsers => {
    const table: Record[] = []
    const factors = new Map<string, Factors>()
    const factorsOf = (id: string): Factors => factors.get(id) ?? { totp: null, recoveryCodes: [] }
    const byId = (id: string) => table.find((record) => record.id === id)
    const copy = <T>(value: T): T => structuredClone(value)
    const users: BaseUsers = {
      findById: async (id) => {
        const record = byId(id)
        if (record === undefined) return null
        const { passwordHash, ...user } = record
        return copy(user)
      },
      findByLogin: async (login) => copy(table.find((record) => fold(record.username) === fold(login)) ?? null),
      create: async (input) => {
        const email = input.email as string | undefined
        const nameTaken = table.some((record) => fold(record.username) === fold(input.username))
        const emailTaken = email !== undefined && table.some((record) =>
          record.email !== undefined && emailKey(record.email) === emailKey(email))
        if (racy) await sleep(1)
        if (nameTaken) throw new UsernameTakenError()
        if (emailTaken) throw new EmailTakenError()
        const record = { ...copy(input), id: String(table.length + 1), roles: [], emailVerified: false } as Record
        table.push(record)
        return copy(record)
      },
      updatePasswordHash: async (id, passwordHash, context) => {
        const record = byId(id)
        if (record === undefined) return
        if (flaws.ignorePrevious === true || context === undefined || context.previous === record.passwordHash) {
          record.passwordHash = passwordHash
        }
      },
      markEmailVerified: async (id) => {
        const record = byId(id)
        if (record !== undefined) record.emailVerified = true
      },
      findFactors: async (id) => copy(factorsOf(id)),
      enableTotp: async (id, factor) => {
        const taken = factorsOf(id).totp !== null
        if (racy) await sleep(1)
        if (taken) return false
        factors.set(id, copy(factor))
        return true
      },
      updateTotp: async (id, totp, context) => {
        const current = factorsOf(id)
        if (current.totp !== null && (flaws.ignorePrevious === true || current.totp === context.previous)) {
          factors.set(id, { ...current, totp })
        }
      },
      disableTotp: async (id) => { factors.delete(id) },
      replaceRecoveryCodes: async (id, recoveryCodes) => { factors.set(id, { ...factorsOf(id), recoveryCodes: [...recoveryCodes] }) },
      useRecoveryCode: async (id, code) => {
        const current = factorsOf(id)
        const has = current.recoveryCodes.includes(code)
        if (racy) await sleep(1)
        if (!has) return false
        factors.set(id, { ...current, recoveryCodes: current.recoveryCodes.filter((other) => other !== code) })
        return true
      }
    }
    return { ...users, ...patch(table, users) }
  }
}

const failures = (options: Omit<UsersConformanceOptions, 'test'>): Promise<Map<string, Error>> =>
  failuresOf(usersConformance, options)

t.test('the in-memory reference adapter passes', (t) =>
  usersConformance({ test: t.test.bind(t), createUsers: memoryUsers(), profile: PROFILE, uniqueEmail: true }))

const CHECKS = {
  lookup: 'create returns the user, which findById (by String(id)) and findByLogin (with its hash) find',
  unknown: 'lookups of unknown ids and names find nothing (null or undefined), without an error',
  taken: 'a taken username is refused with FST_JWT_AUTH_USERNAME_TAKEN, and so is each of its look-alikes',
  race: 'of concurrent creates of one name and its look-alikes, exactly one succeeds; the others are refused',
  hash: 'updatePasswordHash stores the new hash; with { previous }, only over that hash, once of concurrent calls',
  verify: 'markEmailVerified makes the user\'s emailVerified true (findById and findByLogin)',
  email: 'email addresses are unique in any case (FST_JWT_AUTH_EMAIL_TAKEN); users without one are many',
  emailRace: 'of concurrent creates with one address, exactly one succeeds; the others are refused',
  hostileNames: 'hostile usernames are stored exactly or refused with a 400; lookups of any string find nothing else',
  hostileProfile: 'profile fields of every shape round-trip exactly or are refused with a 400',
  enable: 'enableTotp stores the sealed secret and its codes once; findFactors gives them back exactly',
  enableRace: 'of concurrent enableTotp calls for one user, exactly one resolves to true',
  useCode: 'useRecoveryCode spends a code once (once of concurrent uses); another user\'s code is not spent',
  factorUpdates: 'replaceRecoveryCodes, updateTotp (only over previous) and disableTotp change this user only',
  // The identities group's (test/identities-conformance.test.ts breaks them): passed at once without the group.
  noPassword: 'create without a passwordHash makes a user without a password (identities group)',
  link: 'linkIdentity links a sign-in that findByIdentity finds and listIdentities lists',
  linkOnce: 'a sign-in links to one user, once; a user has one identity of each provider',
  unlink: 'unlinkIdentity unlinks the user\'s identity of a provider; lookups of any string find nothing else',
  byEmail: 'findByEmail finds the user of an address, in any case; nothing for any other string',
  // The passkeys group's (test/passkeys/conformance.test.ts breaks them): passed at once without the group.
  handle: 'passkeyUserHandle keeps one handle per user (the first candidate, of concurrent calls too); null for none',
  addPasskey: 'addPasskey stores a passkey that findPasskey and listPasskeys give back exactly',
  passkeyOnce: 'a credential is stored once, for one user (once of concurrent adds); an unknown user gets none',
  passkeyUpdate: 'updatePasskey moves a counter from previousCounter only, once; removePasskey removes the user\'s own only'
}

const BROKEN: Array<{ name: string, users: () => JwtAuthUsers, fails: Partial<globalThis.Record<keyof typeof CHECKS, RegExp>> }> = [
  {
    name: 'lookups that return the stored object itself',
    users: memoryUsers({}, (table) => ({
      findById: async (id) => table.find((record) => record.id === id) ?? null,
      findByLogin: async (login) => table.find((record) => record.username === login) ?? null
    })),
    fails: { lookup: /returns a copy/ }
  },
  {
    name: 'a findByLogin that matches a prefix (LIKE \'x%\')',
    users: memoryUsers({}, (table) => ({
      findByLogin: async (login) => structuredClone(table.find((record) => record.username.startsWith(login)) ?? null)
    })),
    fails: { unknown: /findByLogin\(""\) finds nothing/ }
  },
  {
    name: 'a findById that throws on an id it cannot parse',
    users: memoryUsers({}, (table, users) => ({
      findById: (id) => { if (!/^\d+$/.test(id)) throw new Error('invalid input syntax'); return users.findById(id) }
    })),
    fails: { unknown: /invalid input syntax/, hostileNames: /invalid input syntax/ }
  },
  {
    name: 'names unique only as typed (no fold)',
    users: memoryUsers({ fold: (login) => login }),
    fails: { taken: /refused/, race: /one of \d+ concurrent creates succeeds/ }
  },
  {
    name: 'a create that looks, then inserts (not atomic)',
    users: memoryUsers({ racy: true }),
    fails: {
      race: /one of \d+ concurrent creates succeeds/,
      emailRace: /one of \d+ concurrent creates succeeds/,
      enableRace: /one of \d+ enables TOTP/,
      useCode: /one of \d+ uses spends it/
    }
  },
  {
    name: 'an updatePasswordHash and an updateTotp that ignore previous',
    users: memoryUsers({ ignorePrevious: true }),
    fails: { hash: /changes nothing/, factorUpdates: /over another previous changes nothing/ }
  },
  {
    name: 'recovery codes shared by every user (useRecoveryCode ignores the id)',
    users: memoryUsers({}, (table, users) => {
      const shared: string[] = []
      return {
        enableTotp: async (id, factor) => { shared.push(...factor.recoveryCodes); return users.enableTotp(id, factor) },
        useRecoveryCode: async (id, code) => {
          if (!shared.includes(code)) return false
          await users.useRecoveryCode(id, code)
          return true
        }
      }
    }),
    fails: { useCode: /another user's code: false/ }
  },
  {
    name: 'an enableTotp that replaces a TOTP already on',
    users: memoryUsers({}, (table, users) => ({
      enableTotp: async (id, factor) => { await users.disableTotp(id); return users.enableTotp(id, factor) }
    })),
    fails: { enable: /a second enableTotp resolves to false/ }
  },
  {
    name: 'a disableTotp that keeps the recovery codes',
    users: memoryUsers({}, (table, users) => ({
      disableTotp: async (id) => {
        const { recoveryCodes } = await users.findFactors(id) as Factors
        await users.disableTotp(id)
        await users.replaceRecoveryCodes(id, recoveryCodes)
      }
    })),
    fails: { factorUpdates: /disableTotp forgets both/ }
  },
  {
    name: 'a markEmailVerified that does nothing',
    users: memoryUsers({}, () => ({ markEmailVerified: async () => {} })),
    fails: { verify: /emailVerified is true/ }
  },
  {
    name: 'addresses unique only in the same case',
    users: memoryUsers({ emailKey: (email) => email }),
    fails: { email: /upper case/, emailRace: /one of \d+ concurrent creates succeeds/ }
  },
  {
    name: 'a create that stores names and profile fields as a driver would without checks (lone surrogates replaced)',
    users: memoryUsers({}, (table, users) => ({
      create: (input) => users.create(Object.fromEntries(Object.entries(input).map(([key, value]) =>
        [key, typeof value === 'string' && key !== 'passwordHash' ? value.replace(/\p{Cs}/gu, '\uFFFD') : value])) as
        Parameters<NonNullable<JwtAuthUsers['create']>>[0])
    })),
    fails: { hostileNames: /username #8: read back exactly/, hostileProfile: /displayName #8: read back exactly/ }
  },
  {
    name: 'a create that fails with a 500 on what it cannot store',
    users: memoryUsers({}, (table, users) => ({
      create: (input) => {
        if (Object.values(input).some((value) => typeof value === 'string' && value.includes('\u0000'))) {
          throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { statusCode: 500 })
        }
        return users.create(input)
      }
    })),
    fails: { hostileNames: /stored, or refused with a 400/, hostileProfile: /stored, or refused with a 400/ }
  }
]

for (const { name, users, fails } of BROKEN) {
  t.test(`fails: ${name}`, async (t) => {
    const failed = await failures({ createUsers: users, profile: ['displayName'], uniqueEmail: true })
    const expected = Object.fromEntries(Object.entries(fails).map(([check, why]) => [CHECKS[check as keyof typeof CHECKS], why]))
    t.same([...failed.keys()].sort(), Object.keys(expected).sort(), 'these checks fail, and only these')
    for (const [check, why] of Object.entries(expected)) t.match(failed.get(check)?.message, why, check)
  })
}

t.test('a failing close fails the check; a failing check\'s error wins over its close\'s', async (t) => {
  const closing = await failures({ createUsers: memoryUsers(), closeUsers: () => { throw new Error('close failed') } })
  t.equal(closing.size, Object.keys(CHECKS).length, 'every check fails')
  t.ok([...closing.values()].every((error) => error.message === 'close failed'))
  const both = await failures({
    createUsers: memoryUsers({}, () => ({ markEmailVerified: async () => {} })),
    closeUsers: () => { throw new Error('close failed') }
  })
  t.match(both.get(CHECKS.verify)?.message, /emailVerified is true/)
})

t.test('synchronous callbacks are awaited, and their throws count as refusals', (t) => {
  const table = new Map<string, Record>()
  return usersConformance({
    test: t.test.bind(t),
    createUsers: () => ({
      findById: (id) => { const record = table.get(id); return record === undefined ? null : structuredClone(record) },
      findByLogin: (login) =>
        structuredClone([...table.values()].find((record) => foldLogin(record.username) === foldLogin(login)) ?? null),
      create: (input) => {
        if ([...table.values()].some((record) => foldLogin(record.username) === foldLogin(input.username))) {
          throw new UsernameTakenError()
        }
        const record = { ...structuredClone(input), id: String(table.size + 1), emailVerified: false } as Record
        table.set(record.id, record)
        return structuredClone(record)
      },
      markEmailVerified: (id) => { table.get(id)!.emailVerified = true },
      updatePasswordHash: (id, hash, context) => {
        const record = table.get(id)
        if (record !== undefined && (context === undefined || context.previous === record.passwordHash)) {
          record.passwordHash = hash
        }
      }
    })
  })
})

t.test('options are checked', async (t) => {
  const createUsers = memoryUsers()
  const test = () => {}
  const cases: Array<[unknown, RegExp]> = [
    [null, /options must be an object/],
    [{ test, createUsers, profiles: [] }, /unknown option profiles \(did you mean profile\?\)/],
    [{ createUsers }, /test must be a function/],
    [{ test }, /createUsers must be a function/],
    [{ test, createUsers, closeUsers: 1 }, /closeUsers must be a function/],
    [{ test, createUsers, profile: 'displayName' }, /profile must be an array of field names/],
    [{ test, createUsers, profile: [1] }, /profile must be an array of field names/],
    [{ test, createUsers, uniqueEmail: 'yes' }, /uniqueEmail must be a boolean/],
    [{ test, createUsers, concurrency: 1 }, /concurrency must be an integer of at least 2 \(got 1\)/]
  ]
  for (const [options, message] of cases) {
    t.throws(() => usersConformance(options as UsersConformanceOptions), { name: 'TypeError', message })
  }
  const adapters: Array<[unknown, RegExp]> = [
    [null, /createUsers must give an adapter with findById, findByLogin, create/],
    [{ findById: () => null, findByLogin: () => null }, /with create \(functions\)/],
    [{ ...createUsers(), updatePasswordHash: 'no' }, /updatePasswordHash must be a function when given/],
    [{ ...createUsers(), useRecoveryCode: undefined },
      /the MFA group is all or none: findFactors, enableTotp, updateTotp, disableTotp, replaceRecoveryCodes given, useRecoveryCode missing/]
  ]
  for (const [adapter, message] of adapters) {
    const failed = await failures({ createUsers: () => adapter as JwtAuthUsers })
    t.equal(failed.size, Object.keys(CHECKS).length)
    t.ok([...failed.values()].every((error) => message.test(error.message)), String(message))
  }
})
