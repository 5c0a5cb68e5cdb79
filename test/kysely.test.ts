// fastify-jwt-auth/kysely through the plugin, on SQLite (node:sqlite), a PostgreSQL server of the test's own and
// MariaDB: the routes end to end, concurrent registers, hostile input over HTTP (never a 500), the migrations, the
// options and sqliteDialect. The contract itself is checked by the conformance suite (users-conformance.test.ts).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { CamelCasePlugin, Kysely, MysqlDialect, sql, type Dialect } from 'kysely'
import { Migrator } from 'kysely/migration'
import t, { type Test } from 'tap'
import jwtAuth, { memoryStore, type AccountMessage } from '../lib/index.js'
import { kyselyMigrations, kyselyUsers, migrateToLatest, MIGRATIONS, sqliteDialect } from '../lib/kysely.js'
import { loadNodeSqlite } from '../lib/adapters/kysely/sqlite.js'
import { HOSTILE } from '../lib/testing/users-checks/hostile.js'
import { SECRET } from './helpers/app.js'
import { mysqlDatabase, mysqlPool } from './helpers/mysql.js'
import { postgresDialect } from './helpers/postgres.js'

const PASSWORD = 'a-long-enough-password'

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'jwt-auth-kysely-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const DATABASES: Array<{ name: string, dialect: (t: Test) => Promise<Dialect> }> = [
  { name: 'SQLite', dialect: async (t) => sqliteDialect(join(tempDir(t), 'users.sqlite')) },
  {
    name: 'PostgreSQL',
    dialect: async () => await postgresDialect(16)
  },
  { name: 'MySQL (MariaDB)', dialect: async (t) => new MysqlDialect({ pool: mysqlPool(await mysqlDatabase(t)) }) }
]

/** A Kysely instance on a fresh database, destroyed at the end of the test. */
async function open (t: Test, dialect: Dialect, prefix = ''): Promise<Kysely<any>> {
  const db = new Kysely<any>({ dialect })
  t.teardown(() => db.destroy())
  await migrateToLatest(db, { tablePrefix: prefix })
  return db
}

/** The plugin with its routes on `db`: register (displayName and email), email verification, password change. */
async function appOn (t: Test, db: Kysely<any>, prefix = '') {
  const sent: AccountMessage[] = []
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET,
    store: memoryStore(),
    rateLimit: false,
    users: kyselyUsers(db, { tablePrefix: prefix, defaultRoles: ['user'] }),
    routes: {
      captcha: false,
      profile: { displayName: { type: 'string' }, email: { type: 'string' } },
      emailVerification: { send: (message) => { sent.push(message) } }
    }
  })
  t.teardown(() => app.close())
  const post = (url: string, payload: object, token?: string) => app.inject({
    method: 'POST', url, payload, headers: token === undefined ? {} : { authorization: `Bearer ${token}` }
  })
  return { app, sent, post }
}

for (const { name, dialect } of DATABASES) {
  t.test(`${name}: register, log in, refresh, change the password and verify the address through the routes`, async (t) => {
    const db = await open(t, await dialect(t))
    const { app, sent, post } = await appOn(t, db)
    const registered = await post('/auth/register',
      { username: 'Zoë', password: PASSWORD, displayName: 'Zoë "Z" O\'Neil', email: 'Zoe@Example.test' })
    t.equal(registered.statusCode, 201, registered.body)
    const me = await app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${registered.json().access_token}` } })
    const user = me.json()
    t.match(user, { username: 'Zoë', displayName: 'Zoë "Z" O\'Neil', email: 'Zoe@Example.test', roles: ['user'] })
    t.equal(user.emailVerified, false)
    t.notOk('passwordHash' in user, 'request.user holds no hash')
    t.match(user.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID')

    const login = await post('/auth/login', { username: 'ZOE', password: PASSWORD })
    t.equal(login.statusCode, 200, 'a look-alike spelling logs in as the user (folded lookup)')
    t.equal((await post('/auth/refresh', { refresh_token: login.json().refresh_token })).statusCode, 200)
    const changed = await post('/auth/password/change',
      { currentPassword: PASSWORD, newPassword: `${PASSWORD}-2` }, login.json().access_token)
    t.equal(changed.statusCode, 200, changed.body)
    t.equal((await post('/auth/login', { username: 'zoë', password: PASSWORD })).statusCode, 401, 'the old password')
    t.equal((await post('/auth/login', { username: 'zoë', password: `${PASSWORD}-2` })).statusCode, 200, 'the new one')

    t.equal(sent.length, 1, 'register sent a verification message')
    t.equal((await post('/auth/email/verify', { token: sent[0]!.token })).statusCode, 204)
    const fresh = await post('/auth/login', { username: 'zoe', password: `${PASSWORD}-2` })
    const after = await app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${fresh.json().access_token}` } })
    t.equal(after.json().emailVerified, true, 'markEmailVerified reached the table')
  })

  t.test(`${name}: concurrent registers of one name, its look-alikes or one address: one 201, the rest 409`, async (t) => {
    const db = await open(t, await dialect(t))
    const { post } = await appOn(t, db)
    const spellings = ['race', 'RACE', 'ｒａｃｅ', 'rácé', 'Race']
    const names = await Promise.all(Array.from({ length: 12 }, (_, index) =>
      post('/auth/register', { username: spellings[index % spellings.length]!, password: PASSWORD })))
    t.same(names.map((reply) => reply.statusCode).sort(), [201, ...Array(11).fill(409)])
    t.ok(names.filter((reply) => reply.statusCode === 409)
      .every((reply) => reply.json().code === 'FST_JWT_AUTH_USERNAME_TAKEN'))
    const emails = await Promise.all(Array.from({ length: 12 }, (_, index) =>
      post('/auth/register', { username: `mail${index}`, password: PASSWORD, email: index % 2 === 0 ? 'x@y.test' : 'X@Y.test' })))
    t.same(emails.map((reply) => reply.statusCode).sort(), [201, ...Array(11).fill(409)])
    t.ok(emails.filter((reply) => reply.statusCode === 409)
      .every((reply) => reply.json().code === 'FST_JWT_AUTH_EMAIL_TAKEN'))
    const { n } = await db.selectFrom('users').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()
    t.equal(Number(n), 2, 'two rows')
  })

  t.test(`${name}: hostile names and profile fields get 201 or 400, never a 500; logins with them 401`, async (t) => {
    const db = await open(t, await dialect(t))
    const { app, post } = await appOn(t, db)
    for (const [index, hostile] of HOSTILE.entries()) {
      let registered = false
      for (const field of ['username', 'displayName', 'email']) {
        const body = { username: `user${index}${field}`, password: PASSWORD, [field]: hostile }
        const reply = await post('/auth/register', body)
        t.ok([201, 400].includes(reply.statusCode), `${field} #${index}: ${reply.statusCode} ${reply.body.slice(0, 120)}`)
        if (reply.statusCode !== 201) continue
        registered ||= field === 'username'
        const me = await app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${reply.json().access_token}` } })
        t.equal(me.json()[field], hostile, `${field} #${index}: read back exactly`)
      }
      const login = (password: string) => post('/auth/login', { username: hostile.slice(0, 256), password })
      t.equal((await login(`${PASSWORD}-wrong`)).statusCode, 401, `a wrong password for #${index}`)
      t.equal((await login(PASSWORD)).statusCode, registered ? 200 : 401, `the password of #${index}`)
    }
    const alike = await post('/auth/register', { username: 'strasse', password: PASSWORD })
    const other = await post('/auth/register', { username: 'straße', password: PASSWORD })
    t.same([alike.statusCode, other.statusCode], [201, 201], 'names that fold apart are two users (no collation folds them)')
  })
}

t.test('a profile field in a column of the app: too long or of the wrong type for it is a 400, never a 500', async (t) => {
  for (const { name, dialect } of DATABASES.slice(1)) {
    const db = await open(t, await dialect(t))
    await db.schema.alterTable('users').addColumn('nickname', 'varchar(8)').addColumn('age', 'integer').execute()
    const users = kyselyUsers(db, { columns: { nickname: 'nickname', age: 'age' } })
    await t.rejects(users.create({ username: 'long', passwordHash: 'h', nickname: 'x'.repeat(9) }),
      { statusCode: 400, code: 'FST_JWT_AUTH_INVALID_REQUEST' }, `${name}: too long`)
    await t.rejects(users.create({ username: 'big', passwordHash: 'h', age: 2 ** 40 }),
      { statusCode: 400, code: 'FST_JWT_AUTH_INVALID_REQUEST' }, `${name}: out of range`)
    const user = await users.create({ username: 'fits', passwordHash: 'h', nickname: 'eight ch', age: 7 })
    t.match(await users.findById(String((user as { id: string }).id)), { nickname: 'eight ch', age: 7 })
  }
})

t.test('SQLite: what create refuses before any query, and lookups that find nothing without one', async (t) => {
  const db = await open(t, sqliteDialect(':memory:'))
  await db.schema.alterTable('users').addColumn('nickname', 'text').execute()
  const users = kyselyUsers(db, { columns: { nickname: 'nickname' } })
  const create = (input: Record<string, unknown>) => users.create({ username: 'someone', passwordHash: 'h', ...input })
  await t.rejects(users.create({ username: 1 } as never), { name: 'TypeError', message: /a username and, unless/ })
  await t.rejects(users.create({ username: 'x', passwordHash: 1 } as never), { name: 'TypeError', message: /a passwordHash/ })
  await t.rejects(create({ username: 'x'.repeat(257) }), { code: 'FST_JWT_AUTH_INVALID_USERNAME', message: /at most 256/ })
  t.ok((await users.create({ username: '😀'.repeat(256), passwordHash: 'h' })), '256 characters of two code units')
  await t.rejects(create({ username: '\uFDFA'.repeat(40) }), { code: 'FST_JWT_AUTH_INVALID_USERNAME', message: /once folded/ })
  await t.rejects(create({ username: ' padded' }), { code: 'FST_JWT_AUTH_INVALID_USERNAME' })
  await t.rejects(create({ email: 42 }), { code: 'FST_JWT_AUTH_INVALID_REQUEST', message: 'email must be a string' })
  await t.rejects(create({ email: `${'x'.repeat(250)}@y.test` }), { message: 'email must be at most 254 characters' })
  await t.rejects(create({ email: 'a\u0000@y.test' }), { message: 'email must not contain NUL or a lone surrogate' })
  await t.rejects(create({ nickname: { a: 1 } }), { message: 'nickname must be a string or a number' })
  await t.rejects(create({ nickname: 'a\uD800' }), { message: 'nickname must not contain NUL or a lone surrogate' })
  await t.rejects(create({ bio: 'é'.repeat(40_000) }), { statusCode: 400, message: /at most 65535 bytes/ })
  const plain = await users.create({ username: 'plain', passwordHash: 'h', nickname: null, email: null }) as Record<string, unknown>
  t.match(plain, { nickname: null, email: null, roles: [] })
  for (const id of ['x'.repeat(37), 'a\u0000', '\uD800']) {
    t.equal(await users.findById(id), null)
    await users.updatePasswordHash(id, 'h2')
    await users.markEmailVerified(id)
  }
  t.equal(await users.findByLogin(42 as never), null, 'a login that is not a string')
  t.equal(await users.findByLogin('x'.repeat(600)), null, 'longer than any folded name')
  t.equal(await users.findByEmail!(42 as never), null, 'an address that is not a string')
  t.equal(await users.findByEmail!(`${'x'.repeat(300)}@y.test`), null, 'longer than any stored address')
  // A row of a later sign-in method: no password. Nothing logs in with one.
  const row = { id: 'no-password', username: 'nopass', username_folded: 'nopass', password_hash: null }
  await db.insertInto('users').values({ ...row, roles: '[]', profile: '{}', created_at: '', updated_at: '' }).execute()
  t.notOk('passwordHash' in (await users.findByLogin('nopass'))!, 'no passwordHash')
  const app = Fastify()
  await app.register(jwtAuth, { secret: SECRET, users, routes: { captcha: false }, rateLimit: false })
  t.teardown(() => app.close())
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'nopass', password: PASSWORD } })
  t.equal(login.statusCode, 401)
})

t.test('without the migrations, the database\'s own error (no table) passes through', async (t) => {
  const db = new Kysely<any>({ dialect: sqliteDialect(':memory:') })
  t.teardown(() => db.destroy())
  await t.rejects(kyselyUsers(db).create({ username: 'alice', passwordHash: 'h' }), { message: /no such table: users/ })
  await t.rejects(kyselyUsers(db).findById('1'), { message: /no such table: users/ })
})

t.test('a Kysely with plugins (CamelCasePlugin): the adapter and the migrations leave them out', async (t) => {
  const db = new Kysely<any>({ dialect: sqliteDialect(':memory:'), plugins: [new CamelCasePlugin()] })
  t.teardown(() => db.destroy())
  await migrateToLatest(db)
  const users = kyselyUsers(db)
  const user = await users.create({ username: 'camel', passwordHash: 'h', email: 'c@x.test' }) as { id: string }
  await users.markEmailVerified(user.id)
  t.match(await users.findByLogin('camel'), { id: user.id, passwordHash: 'h', email: 'c@x.test', emailVerified: true })
  t.match(await users.findById(user.id), { username: 'camel', roles: [] })
  t.match(await db.selectFrom('users').select('emailVerified').executeTakeFirst(), { emailVerified: 1 },
    'the app\'s own queries go through its plugins')
})

t.test('a unique index of the app\'s own passes its error through (neither name nor address was taken)', async (t) => {
  const db = await open(t, sqliteDialect(':memory:'))
  await db.schema.alterTable('users').addColumn('handle', 'text').execute()
  await db.schema.createIndex('users_handle_unique').on('users').column('handle').unique().execute()
  const users = kyselyUsers(db, { columns: { handle: 'handle' } })
  await users.create({ username: 'first', passwordHash: 'h', handle: 'hd', email: 'a@b.test' })
  await t.rejects(users.create({ username: 'second', passwordHash: 'h', handle: 'hd', email: 'c@d.test' }),
    { message: /UNIQUE constraint failed: users\.handle/ })
  await t.rejects(users.create({ username: 'third', passwordHash: 'h', handle: 'hd' }), { message: /UNIQUE/ })
})

t.test('migrations: idempotent, per prefix, namespaced, with a down; a table in the way fails them', async (t) => {
  const db = await open(t, sqliteDialect(':memory:'))
  t.same(await migrateToLatest(db), [], 'nothing left to run')
  t.same((await migrateToLatest(db, { tablePrefix: 'auth_' })).map((result) => result.migrationName), [...MIGRATIONS])
  const tables = (await db.introspection.getTables()).map((table) => table.name).sort()
  t.same(tables, ['auth_fastify_jwt_auth_migration', 'auth_fastify_jwt_auth_migration_lock', 'auth_user_identities',
    'auth_user_passkey_handles', 'auth_user_passkeys', 'auth_user_recovery_codes', 'auth_user_totp', 'auth_users',
    'fastify_jwt_auth_migration', 'fastify_jwt_auth_migration_lock', 'user_identities', 'user_passkey_handles',
    'user_passkeys', 'user_recovery_codes', 'user_totp', 'users'])
  const prefixed = kyselyUsers(db, { tablePrefix: 'auth_' })
  await prefixed.create({ username: 'alice', passwordHash: 'h' })
  t.equal(await kyselyUsers(db).findByLogin('alice'), null, 'the prefixed table is another table')

  // The app's own Migrator, with its own bookkeeping tables: up, then down.
  const migrator = new Migrator({
    db, provider: kyselyMigrations({ tablePrefix: 'mine_' }), migrationTableName: 'mine_migrations', migrationLockTableName: 'mine_lock'
  })
  t.equal((await migrator.migrateToLatest()).error, undefined)
  t.ok((await db.introspection.getTables()).some((table) => table.name === 'mine_users'))
  const mine = async () => (await db.introspection.getTables()).map((table) => table.name)
    .filter((name) => name.startsWith('mine_user')).sort()
  t.same(await mine(), ['mine_user_identities', 'mine_user_passkey_handles', 'mine_user_passkeys', 'mine_user_recovery_codes',
    'mine_user_totp', 'mine_users'])
  t.equal((await migrator.migrateDown()).error, undefined)
  t.same(await mine(), ['mine_user_identities', 'mine_user_recovery_codes', 'mine_user_totp', 'mine_users'],
    'the down of 0004 drops its tables only')
  t.equal((await migrator.migrateDown()).error, undefined)
  t.same(await mine(), ['mine_user_recovery_codes', 'mine_user_totp', 'mine_users'], 'the down of 0003 drops its table only')
  t.equal((await migrator.migrateDown()).error, undefined)
  t.same(await mine(), ['mine_users'], 'the down of 0002 drops its tables only')
  t.equal((await migrator.migrateDown()).error, undefined)
  t.same(await mine(), [], 'the down of 0001 drops the users')

  await db.schema.createTable('app_users').addColumn('id', 'integer').execute()
  await t.rejects(migrateToLatest(db, { tablePrefix: 'app_' }), { message: /app_users" already exists/ })
})

t.test('options are checked, naming the option', async (t) => {
  const db = new Kysely<any>({ dialect: sqliteDialect(':memory:') })
  t.teardown(() => db.destroy())
  const cases: Array<[() => unknown, RegExp]> = [
    [() => kyselyUsers(db, null as never), /kyselyUsers: options must be an object/],
    [() => kyselyUsers(db, { tablePrefx: 'a_' } as never), /kyselyUsers: unknown option tablePrefx \(did you mean tablePrefix\?\)/],
    [() => kyselyUsers(db, { tablePrefix: 'a-b' }), /kyselyUsers: tablePrefix must be an identifier .* \(got "a-b"\)/],
    [() => kyselyUsers(db, { tablePrefix: 'x'.repeat(33) }), /at most 32 characters/],
    [() => kyselyUsers(db, { defaultRoles: 'admin' as never }), /defaultRoles must be an array of strings/],
    [() => kyselyUsers(db, { defaultRoles: [1] as never }), /defaultRoles must be an array of strings/],
    [() => kyselyUsers(db, { columns: [] as never }), /columns must map profile fields to column names/],
    [() => kyselyUsers(db, { columns: { roles: 'roles' } }), /columns\.roles: roles is not a profile field/],
    [() => kyselyUsers(db, { columns: { nick: 'nick name' } }), /columns\.nick must be an identifier/],
    [() => kyselyMigrations({ prefix: 'a' } as never), /kyselyMigrations: unknown option prefix/],
    [() => sqliteDialect(''), /sqliteDialect: give a file path, ':memory:' or a DatabaseSync of node:sqlite/],
    [() => sqliteDialect({ prepare: () => {} } as never), /sqliteDialect: give a file path/]
  ]
  for (const [call, message] of cases) t.throws(call, { code: 'FST_JWT_AUTH_INVALID_OPTION', message })
  await t.rejects(migrateToLatest(db, { tablePrefix: 1 } as never), { message: /migrateToLatest: tablePrefix must be/ })
})

t.test('sqliteDialect: a DatabaseSync of your own (left open), statements cached, reads and streams', async (t) => {
  const { DatabaseSync } = loadNodeSqlite()
  const own = new DatabaseSync(':memory:')
  const db = new Kysely<any>({ dialect: sqliteDialect(own) })
  await db.schema.createTable('items').addColumn('n', 'integer').execute()
  for (let n = 0; n < 120; n++) await sql`insert into items (n) values (${sql.lit(n)})`.execute(db)
  const inserted = await db.insertInto('items').values({ n: 1000 }).returning('n').executeTakeFirst()
  t.same(inserted, { n: 1000 }, 'INSERT ... RETURNING reads')
  const streamed: unknown[] = []
  for await (const row of db.selectFrom('items').select('n').where('n', '<', 3).orderBy('n').stream()) streamed.push(row)
  t.same(streamed, [{ n: 0 }, { n: 1 }, { n: 2 }])
  await db.destroy()
  t.same(own.prepare('select count(*) as n from items').all(), [{ n: 121 }], 'still open: yours to close')
  own.close()
})

t.test('sqliteDialect: a file opened in WAL mode, closed by destroy; a path it cannot open fails the first query', async (t) => {
  const dir = tempDir(t)
  const db = new Kysely<any>({ dialect: sqliteDialect(join(dir, 'wal.sqlite')) })
  t.same((await sql<{ journal_mode: string }>`pragma journal_mode`.execute(db)).rows, [{ journal_mode: 'wal' }])
  t.same((await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db)).rows, [{ foreign_keys: 1 }])
  await db.destroy()
  const missing = new Kysely<any>({ dialect: sqliteDialect(join(dir, 'no', 'such', 'folder.sqlite')) })
  await t.rejects(sql`select 1`.execute(missing), { message: /unable to open database file/ })
})

t.test('loadNodeSqlite: a Node without node:sqlite is told which it needs', async (t) => {
  const message = /sqliteDialect needs node:sqlite, which Node\.js v[\d.]+ does not have \(22\.13 or newer has it\)/
  t.throws(() => loadNodeSqlite(null), { message })
  t.throws(() => loadNodeSqlite(() => undefined), { message })
  t.throws(() => loadNodeSqlite(() => { throw new Error('No such built-in module: node:sqlite') }),
    { message, cause: { message: 'No such built-in module: node:sqlite' } })
  t.equal(typeof loadNodeSqlite().DatabaseSync, 'function')
})
