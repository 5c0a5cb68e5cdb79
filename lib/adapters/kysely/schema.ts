import { MysqlAdapter, sql } from 'kysely'
// Types from kysely (an ES module) as an ES module imports them, also in the CommonJS build's declarations.
import type { Kysely } from 'kysely' with { 'resolution-mode': 'import' }
import { checkKeys, fail } from '../../config/check.js'

/**
 * Column lengths, in characters (code points). The indexed ones fit every database's index key limit at four
 * bytes a character: MySQL's 3072 bytes, PostgreSQL's 2704.
 */
export const LIMITS = {
  id: 36,
  username: 256,
  folded: 512,
  email: 254
} as const

/** The JSON columns (roles, profile) hold at most this many bytes of UTF-8: MySQL's TEXT. */
export const MAX_JSON_BYTES = 65_535

/** A migration, as Kysely's Migrator runs it. */
export interface UsersMigration {
  up (db: Kysely<any>): Promise<void>
  down (db: Kysely<any>): Promise<void>
}

/** The names of what the migrations create, under the table prefix. */
export interface TableNames {
  users: string
  loginIndex: string
  emailIndex: string
  migrationTable: string
  migrationLockTable: string
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/

/** A table or column name the options give: plain identifiers only, so that no quoting rule of any database matters. */
export function checkIdentifier (name: unknown, option: string): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    fail(`${option} must be an identifier of letters, digits and _, not starting with a digit, at most 32 characters` +
      ` (got ${JSON.stringify(name)})`)
  }
  return name
}

/** The options kyselyUsers and the migrations share, checked; `known` are the caller's other option names. */
export function resolveTables (options: unknown, caller: string, known: readonly string[] = []): TableNames {
  if (options === null || typeof options !== 'object') fail(`${caller}: options must be an object`)
  checkKeys(options, ['tablePrefix', ...known], '', (message) => fail(`${caller}: ${message}`))
  const { tablePrefix = '' } = options as { tablePrefix?: unknown }
  const prefix = tablePrefix === '' ? '' : checkIdentifier(tablePrefix, `${caller}: tablePrefix`)
  return {
    users: `${prefix}users`,
    loginIndex: `${prefix}users_login_unique`,
    emailIndex: `${prefix}users_email_unique`,
    migrationTable: `${prefix}fastify_jwt_auth_migration`,
    migrationLockTable: `${prefix}fastify_jwt_auth_migration_lock`
  }
}

/**
 * 0001: the users table. Portable: ids are UUID strings the adapter makes (no auto-increment, no RETURNING),
 * timestamps are ISO-8601 text it writes, roles and profile are JSON text. On MySQL the table is utf8mb4 with a
 * binary collation: any character is stored, and the folded login and the email compare as the adapter folded
 * them, not as a case- or accent-insensitive default collation would.
 */
export function usersMigration (names: TableNames): UsersMigration {
  return {
    async up (db: Kysely<any>): Promise<void> {
      let table = db.schema.createTable(names.users)
        .addColumn('id', `varchar(${LIMITS.id})`, (column) => column.primaryKey())
        .addColumn('username', `varchar(${LIMITS.username})`, (column) => column.notNull())
        .addColumn('username_folded', `varchar(${LIMITS.folded})`, (column) => column.notNull())
        .addColumn('email', `varchar(${LIMITS.email})`)
        .addColumn('email_normalized', `varchar(${LIMITS.email})`)
        .addColumn('email_verified', 'boolean', (column) => column.notNull().defaultTo(false))
        .addColumn('password_hash', 'text')
        .addColumn('roles', 'text', (column) => column.notNull())
        .addColumn('profile', 'text', (column) => column.notNull())
        .addColumn('created_at', 'varchar(32)', (column) => column.notNull())
        .addColumn('updated_at', 'varchar(32)', (column) => column.notNull())
      if (db.getExecutor().adapter instanceof MysqlAdapter) {
        table = table.modifyEnd(sql`character set utf8mb4 collate utf8mb4_bin`)
      }
      await table.execute()
      await db.schema.createIndex(names.loginIndex).on(names.users).column('username_folded').unique().execute()
      // Unique where set: several users without an address (NULL) are allowed on every database.
      await db.schema.createIndex(names.emailIndex).on(names.users).column('email_normalized').unique().execute()
    },
    async down (db: Kysely<any>): Promise<void> {
      await db.schema.dropTable(names.users).execute()
    }
  }
}
