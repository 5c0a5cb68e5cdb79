import { MysqlAdapter, sql } from 'kysely'
// Types from kysely (an ES module) as an ES module imports them, also in the CommonJS build's declarations.
import type { CreateTableBuilder, Kysely } from 'kysely' with { 'resolution-mode': 'import' }
import { checkKeys, fail } from '../../config/check.js'

/**
 * Column lengths, in characters (code points). The indexed ones fit every database's index key limit at four
 * bytes a character: MySQL's 3072 bytes, PostgreSQL's 2704.
 */
export const LIMITS = {
  id: 36,
  username: 256,
  folded: 512,
  email: 254,
  /** A recovery code as the plugin stores it: a key id (32 at most), a dot, a base64url HMAC-SHA-256 (43). */
  codeHash: 128,
  /** A provider's name in the `oauth.providers` option. */
  provider: 64,
  /** A provider's id of a user: OpenID Connect caps `sub` at 255 ASCII characters. */
  subject: 255,
  /**
   * A passkey's credential id, base64url: 525 bytes at most here, within every index key limit (WebAuthn allows
   * 1023; authenticators give 16 to 64).
   */
  credentialId: 700,
  /** A passkey's name, as its user gives it. */
  passkeyName: 64,
  /** A user's passkey handle: 32 random bytes, base64url (64 bytes at most, as WebAuthn allows). */
  passkeyHandle: 86
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
  totp: string
  recoveryCodes: string
  identities: string
  identityUserIndex: string
  passkeys: string
  passkeyUserIndex: string
  passkeyHandles: string
  passkeyHandleIndex: string
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
    totp: `${prefix}user_totp`,
    recoveryCodes: `${prefix}user_recovery_codes`,
    identities: `${prefix}user_identities`,
    identityUserIndex: `${prefix}user_identities_user_unique`,
    passkeys: `${prefix}user_passkeys`,
    passkeyUserIndex: `${prefix}user_passkeys_user`,
    passkeyHandles: `${prefix}user_passkey_handles`,
    passkeyHandleIndex: `${prefix}user_passkey_handles_unique`,
    migrationTable: `${prefix}fastify_jwt_auth_migration`,
    migrationLockTable: `${prefix}fastify_jwt_auth_migration_lock`
  }
}

/** On MySQL, a table in utf8mb4 with a binary collation (what 0001 made the users table: its keys compare alike). */
export function binaryOnMysql (db: Kysely<any>, table: CreateTableBuilder<string>): CreateTableBuilder<string> {
  return db.getExecutor().adapter instanceof MysqlAdapter
    ? table.modifyEnd(sql`character set utf8mb4 collate utf8mb4_bin`)
    : table
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
      const table = db.schema.createTable(names.users)
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
      await binaryOnMysql(db, table).execute()
      await db.schema.createIndex(names.loginIndex).on(names.users).column('username_folded').unique().execute()
      // Unique where set: several users without an address (NULL) are allowed on every database.
      await db.schema.createIndex(names.emailIndex).on(names.users).column('email_normalized').unique().execute()
    },
    async down (db: Kysely<any>): Promise<void> {
      await db.schema.dropTable(names.users).execute()
    }
  }
}

/**
 * 0002: the second factors (the `users` MFA group), in tables of their own that go with their user: a user's TOTP
 * secret, sealed by the plugin (one row at most: the primary key makes enabling it atomic), and the hashes of its
 * unused recovery codes (a code is spent by deleting its row: of concurrent uses one deletes it).
 */
export function factorsMigration (names: TableNames): UsersMigration {
  const ofUser = (table: CreateTableBuilder<string>, name: string) => table
    .addColumn('user_id', `varchar(${LIMITS.id})`, (column) => column.notNull())
    .addForeignKeyConstraint(`${name}_user_fk`, ['user_id'], names.users, ['id'], (fk) => fk.onDelete('cascade'))
  return {
    async up (db: Kysely<any>): Promise<void> {
      await binaryOnMysql(db, ofUser(db.schema.createTable(names.totp), names.totp)
        .addColumn('secret', 'text', (column) => column.notNull())
        .addColumn('created_at', 'varchar(32)', (column) => column.notNull())
        .addPrimaryKeyConstraint(`${names.totp}_pkey`, ['user_id'])).execute()
      await binaryOnMysql(db, ofUser(db.schema.createTable(names.recoveryCodes), names.recoveryCodes)
        .addColumn('code_hash', `varchar(${LIMITS.codeHash})`, (column) => column.notNull())
        .addPrimaryKeyConstraint(`${names.recoveryCodes}_pkey`, ['user_id', 'code_hash'])).execute()
    },
    async down (db: Kysely<any>): Promise<void> {
      await db.schema.dropTable(names.recoveryCodes).execute()
      await db.schema.dropTable(names.totp).execute()
    }
  }
}
