// Type tests of fastify-jwt-auth/kysely (the published declarations, through the exports map).
import { test as nodeTest } from 'node:test'
import Fastify from 'fastify'
import { Kysely, type Dialect } from 'kysely'
import { Migrator, type MigrationProvider } from 'kysely/migration'
import { expect, test } from 'tstyche'
import jwtAuth, { type JwtAuthUsers, type UserIdentity } from 'fastify-jwt-auth'
import {
  kyselyMigrations, kyselyUsers, migrateToLatest, MIGRATIONS, sqliteDialect,
  type KyselyMigrationResult, type KyselyUser, type KyselyUsers, type NodeSqliteDatabase
} from 'fastify-jwt-auth/kysely'
import { usersConformance } from 'fastify-jwt-auth/testing'

interface Database {
  users: { id: string, username: string }
  orders: { id: number, user_id: string }
}

const db = new Kysely<Database>({ dialect: sqliteDialect(':memory:') })

test('kyselyUsers: the users option over the app\'s own Kysely, typed as the app\'s database', () => {
  const users = kyselyUsers(db, { tablePrefix: 'auth_', defaultRoles: ['user'], columns: { displayName: 'display_name' } })
  expect(users).type.toBe<KyselyUsers>()
  expect<JwtAuthUsers>().type.toBeAssignableFrom(users)
  expect(Fastify().register).type.toBeCallableWith(jwtAuth, { secret: 'x'.repeat(32), users })
  expect(users.findById('id')).type.toBe<Promise<object & { then?: never } | null>>()
  expect(users.updatePasswordHash).type.toBeCallableWith('id', 'hash', { previous: 'old' })
  expect(kyselyUsers).type.toBeCallableWith(db)
  expect(kyselyUsers).type.toBeCallableWith(db, { defaultRoles: ['a'] as readonly string[] })
  expect(kyselyUsers).type.not.toBeCallableWith(db, { prefix: 'auth_' })
  expect(kyselyUsers).type.not.toBeCallableWith(db, { defaultRoles: 'admin' })
  expect(kyselyUsers).type.not.toBeCallableWith(db, { columns: { displayName: 1 } })
  expect(kyselyUsers).type.not.toBeCallableWith({ selectFrom: () => {} })
  expect<KyselyUser>().type.toBeAssignableFrom({ id: 'u', username: 'a', roles: [], email: null, emailVerified: false, shoeSize: 44 })
})

test('kyselyUsers: the identities group, and users without a password', () => {
  const users = kyselyUsers(db)
  expect(users.create).type.toBeCallableWith({ username: 'signed-in-with-a-provider' })
  expect(users.findByIdentity('google', 'sub')).type.toBe<Promise<object & { then?: never } | null>>()
  expect(users.findByEmail('a@example.com')).type.toBe<Promise<object & { then?: never } | null>>()
  expect(users.linkIdentity).type.toBeCallableWith('id', { provider: 'google', subject: 's', email: null, emailVerified: false })
  expect(users.linkIdentity).type.not.toBeCallableWith('id', { provider: 'google', subject: 's' })
  expect(users.listIdentities('id')).type.toBe<Promise<UserIdentity[]>>()
  expect(users.unlinkIdentity('id', 'google')).type.toBe<Promise<boolean>>()
  // A create typed before users could be made without a password still fits the users option.
  const older = { create: async (input: { username: string, passwordHash: string }) => ({ id: 1, ...input }) }
  expect<JwtAuthUsers>().type.toBeAssignableFrom(older)
})

test('migrations: a Kysely MigrationProvider, and migrateToLatest', () => {
  expect<MigrationProvider>().type.toBeAssignableFrom(kyselyMigrations({ tablePrefix: 'auth_' }))
  expect(Migrator).type.toBeConstructableWith({ db, provider: kyselyMigrations() })
  expect(migrateToLatest(db)).type.toBe<Promise<KyselyMigrationResult[]>>()
  expect(migrateToLatest).type.not.toBeCallableWith(db, { tablePrefix: 1 })
  expect(MIGRATIONS).type.toBe<readonly [
    'fastify-jwt-auth-0001-users', 'fastify-jwt-auth-0002-mfa', 'fastify-jwt-auth-0003-identities',
    'fastify-jwt-auth-0004-passkeys'
  ]>()
})

test('sqliteDialect: a path or a database of node:sqlite\'s shape', () => {
  expect(sqliteDialect('app.sqlite')).type.toBe<Dialect>()
  const database: NodeSqliteDatabase = {
    prepare: () => ({ columns: () => [], all: () => [], run: () => ({ changes: 0, lastInsertRowid: 0 }), iterate: () => [][Symbol.iterator]() }),
    exec: () => {},
    close: () => {}
  }
  expect(sqliteDialect).type.toBeCallableWith(database)
  expect(sqliteDialect).type.not.toBeCallableWith(1)
  expect(sqliteDialect).type.not.toBeCallableWith({ prepare: () => ({}) })
})

test('usersConformance: any runner\'s test, an adapter of the contract', () => {
  expect(usersConformance({ test: nodeTest, createUsers: () => kyselyUsers(db) })).type.toBe<Promise<void>>()
  expect(usersConformance).type.toBeCallableWith({
    test: nodeTest, createUsers: async () => kyselyUsers(db), closeUsers: () => {}, profile: ['displayName'], uniqueEmail: true, concurrency: 4
  })
  expect(usersConformance).type.not.toBeCallableWith({ test: nodeTest })
  expect(usersConformance).type.not.toBeCallableWith({ test: nodeTest, createUsers: () => kyselyUsers(db), profile: 'displayName' })
})
