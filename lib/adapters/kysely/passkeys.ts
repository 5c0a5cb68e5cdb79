// Types from kysely (an ES module) as an ES module imports them, also in the CommonJS build's declarations.
import { sql } from 'kysely'
import type { CreateTableBuilder, Kysely } from 'kysely' with { 'resolution-mode': 'import' }
import type { FoundPasskey, PasskeyUse, StoredPasskey } from '../../config/options.js'
import { binaryOnMysql, LIMITS, type TableNames, type UsersMigration } from './schema.js'
import { lookupKey } from './text.js'

/**
 * 0004: passkeys (the `users` passkeys group), in tables that go with their user: each user's random passkey
 * handle (one at most: the primary key; unique, as authenticators name the account by it), and the passkeys, keyed
 * by their credential id (a credential is stored once, for one user). It needs only 0001.
 */
export function passkeysMigration (names: TableNames): UsersMigration {
  const ofUser = (table: CreateTableBuilder<string>, name: string) => table
    .addColumn('user_id', `varchar(${LIMITS.id})`, (column) => column.notNull())
    .addForeignKeyConstraint(`${name}_user_fk`, ['user_id'], names.users, ['id'], (fk) => fk.onDelete('cascade'))
  return {
    async up (db: Kysely<any>): Promise<void> {
      await binaryOnMysql(db, ofUser(db.schema.createTable(names.passkeyHandles), names.passkeyHandles)
        .addColumn('handle', `varchar(${LIMITS.passkeyHandle})`, (column) => column.notNull())
        .addPrimaryKeyConstraint(`${names.passkeyHandles}_pkey`, ['user_id'])).execute()
      await db.schema.createIndex(names.passkeyHandleIndex).on(names.passkeyHandles).column('handle').unique().execute()
      await binaryOnMysql(db, ofUser(db.schema.createTable(names.passkeys), names.passkeys)
        .addColumn('credential_id', `varchar(${LIMITS.credentialId})`, (column) => column.notNull())
        .addColumn('public_key', 'text', (column) => column.notNull())
        .addColumn('counter', 'bigint', (column) => column.notNull())
        .addColumn('transports', 'text', (column) => column.notNull())
        .addColumn('backed_up', 'boolean', (column) => column.notNull())
        .addColumn('name', `varchar(${LIMITS.passkeyName})`, (column) => column.notNull())
        .addColumn('created_at', 'varchar(32)', (column) => column.notNull())
        .addColumn('last_used_at', 'varchar(32)')
        .addPrimaryKeyConstraint(`${names.passkeys}_pkey`, ['credential_id'])).execute()
      await db.schema.createIndex(names.passkeyUserIndex).on(names.passkeys).column('user_id').execute()
    },
    async down (db: Kysely<any>): Promise<void> {
      await db.schema.dropTable(names.passkeys).execute()
      await db.schema.dropTable(names.passkeyHandles).execute()
    }
  }
}

const COLUMNS = [
  'credential_id', 'public_key', 'counter', 'transports', 'backed_up', 'name', 'created_at', 'last_used_at'
]

function passkeyOf (row: Record<string, unknown>): StoredPasskey {
  return {
    id: row.credential_id as string,
    publicKey: row.public_key as string,
    // PostgreSQL's driver reads a bigint as a string.
    counter: Number(row.counter),
    transports: JSON.parse(row.transports as string) as string[],
    backedUp: Number(row.backed_up) === 1 || row.backed_up === true,
    name: row.name as string,
    createdAt: row.created_at as string,
    lastUsedAt: row.last_used_at as string | null
  }
}

/** Whether a passkey the plugin gives fits the columns (it checks them before: this is the adapter's own guard). */
function fitsColumns (passkey: StoredPasskey): boolean {
  return lookupKey(passkey?.id, LIMITS.credentialId) !== undefined &&
    lookupKey(passkey.name, LIMITS.passkeyName) !== undefined && typeof passkey.publicKey === 'string' &&
    Number.isSafeInteger(passkey.counter) && passkey.counter >= 0 && Array.isArray(passkey.transports)
}

/**
 * The `users` passkeys group over the tables of migration 0004. A key no column can hold finds nothing and changes
 * nothing.
 */
export function kyselyPasskeys (
  db: Kysely<any>, names: TableNames, isUniqueViolation: (error: unknown) => boolean
) {
  const { passkeys, passkeyHandles } = names
  const userKey = (id: unknown) => lookupKey(id, LIMITS.id)
  const credentialKey = (id: unknown) => lookupKey(id, LIMITS.credentialId)
  const handleOf = async (key: string) => (await db.selectFrom(passkeyHandles).select('handle')
    .where('user_id', '=', key).executeTakeFirst())?.handle as string | undefined

  return {
    async passkeyUserHandle (id: string, candidate: string): Promise<string | null> {
      const key = userKey(id)
      if (key === undefined || lookupKey(candidate, LIMITS.passkeyHandle) === undefined) return null
      const stored = await handleOf(key)
      if (stored !== undefined) return stored
      try {
        await db.insertInto(passkeyHandles).columns(['user_id', 'handle'])
          .expression((eb) => eb.selectFrom(names.users).select(['id', eb.val(candidate).as('handle')])
            .where('id', '=', key))
          .execute()
      } catch (error) {
        // Another call stored the user's handle meanwhile (the primary key refused this one): that one is the user's.
        const stored = await handleOf(key)
        if (stored === undefined) throw error
        return stored
      }
      return await handleOf(key) ?? null
    },

    async listPasskeys (id: string): Promise<StoredPasskey[]> {
      const key = userKey(id)
      if (key === undefined) return []
      const rows = await db.selectFrom(passkeys).select(COLUMNS).where('user_id', '=', key)
        .orderBy('created_at').orderBy('credential_id').execute()
      return rows.map(passkeyOf)
    },

    async findPasskey (credentialId: string): Promise<FoundPasskey | null> {
      const key = credentialKey(credentialId)
      if (key === undefined) return null
      const row = await db.selectFrom(`${passkeys} as p`).innerJoin(`${passkeyHandles} as h`, 'h.user_id', 'p.user_id')
        .select([...COLUMNS.map((column) => `p.${column}`), 'p.user_id', 'h.handle'])
        .where('p.credential_id', '=', key).executeTakeFirst() as Record<string, unknown> | undefined
      if (row === undefined) return null
      return { ...passkeyOf(row), userId: row.user_id as string, userHandle: row.handle as string }
    },

    async addPasskey (id: string, passkey: StoredPasskey): Promise<boolean> {
      const key = userKey(id)
      if (key === undefined || !fitsColumns(passkey)) return false
      const row = {
        credential_id: passkey.id,
        public_key: passkey.publicKey,
        counter: passkey.counter,
        transports: JSON.stringify(passkey.transports),
        // A literal: node:sqlite binds no booleans.
        backed_up: sql.lit(passkey.backedUp === true),
        name: passkey.name,
        created_at: passkey.createdAt,
        last_used_at: passkey.lastUsedAt ?? null
      }
      try {
        // The primary key refuses a credential stored already: of concurrent registrations of one, one inserts.
        const result = await db.insertInto(passkeys).columns(['user_id', ...COLUMNS] as never)
          .expression((eb) => eb.selectFrom(names.users).select([
            'id', ...Object.entries(row).map(([column, value]) =>
              typeof value === 'object' && value !== null ? value.as(column) : eb.val(value).as(column))
          ]).where('id', '=', key)).executeTakeFirst()
        return result.numInsertedOrUpdatedRows === 1n
      } catch (error) {
        if (isUniqueViolation(error)) return false
        throw error
      }
    },

    async updatePasskey (
      credentialId: string, use: PasskeyUse, context: { previousCounter: number }
    ): Promise<boolean> {
      const key = credentialKey(credentialId)
      if (key === undefined || !Number.isSafeInteger(use.counter)) return false
      // Conditional on the counter read: of two logins that read one value, one moves it.
      const result = await db.updateTable(passkeys)
        .set({ counter: use.counter, backed_up: sql.lit(use.backedUp === true), last_used_at: use.lastUsedAt })
        .where('credential_id', '=', key).where('counter', '=', context.previousCounter).executeTakeFirst()
      return result.numUpdatedRows === 1n
    },

    async removePasskey (id: string, credentialId: string): Promise<boolean> {
      const key = userKey(id)
      const credential = credentialKey(credentialId)
      if (key === undefined || credential === undefined) return false
      const result = await db.deleteFrom(passkeys).where('user_id', '=', key).where('credential_id', '=', credential)
        .executeTakeFirst()
      return result.numDeletedRows === 1n
    }
  }
}
