import { MysqlAdapter, sql } from 'kysely'
// Types from kysely (an ES module) as an ES module imports them, also in the CommonJS build's declarations.
import type { Kysely } from 'kysely' with { 'resolution-mode': 'import' }
import type { NewIdentity, UserIdentity } from '../../config/options.js'
import { LIMITS, type TableNames, type UsersMigration } from './schema.js'
import { lookupKey } from './text.js'

/**
 * 0003: the sign-ins of other providers linked to users (the `users` identities group), in a table that goes with
 * its user. The primary key (provider, subject) links a provider's user to one user at most, atomically; the unique
 * (user, provider) gives a user one identity of each provider. It needs only 0001.
 */
export function identitiesMigration (names: TableNames): UsersMigration {
  return {
    async up (db: Kysely<any>): Promise<void> {
      let table = db.schema.createTable(names.identities)
        .addColumn('provider', `varchar(${LIMITS.provider})`, (column) => column.notNull())
        .addColumn('subject', `varchar(${LIMITS.subject})`, (column) => column.notNull())
        .addColumn('user_id', `varchar(${LIMITS.id})`, (column) => column.notNull())
        .addColumn('email', `varchar(${LIMITS.email})`)
        .addColumn('email_verified', 'boolean', (column) => column.notNull().defaultTo(false))
        .addColumn('linked_at', 'varchar(32)', (column) => column.notNull())
        .addPrimaryKeyConstraint(`${names.identities}_pkey`, ['provider', 'subject'])
        .addForeignKeyConstraint(`${names.identities}_user_fk`, ['user_id'], names.users, ['id'],
          (fk) => fk.onDelete('cascade'))
      // As 0001 made the users table: the keys compare as stored, not as a case-insensitive collation would.
      if (db.getExecutor().adapter instanceof MysqlAdapter) {
        table = table.modifyEnd(sql`character set utf8mb4 collate utf8mb4_bin`)
      }
      await table.execute()
      await db.schema.createIndex(names.identityUserIndex).on(names.identities).columns(['user_id', 'provider'])
        .unique().execute()
    },
    async down (db: Kysely<any>): Promise<void> {
      await db.schema.dropTable(names.identities).execute()
    }
  }
}

/**
 * The `users` identities group over the table of migration 0003. A key no column can hold finds nothing and
 * changes nothing; an email the provider gave that no column can hold is not kept (it is only informative here).
 */
export function kyselyIdentities (
  db: Kysely<any>, names: TableNames, isUniqueViolation: (error: unknown) => boolean
) {
  const table = names.identities
  const identityOf = (row: Record<string, unknown>): UserIdentity => ({
    provider: row.provider as string,
    subject: row.subject as string,
    email: row.email as string | null,
    emailVerified: Number(row.email_verified) === 1,
    linkedAt: row.linked_at as string
  })

  return {
    /** The user id linked to (provider, subject), or undefined. */
    async userIdOf (provider: string, subject: string): Promise<string | undefined> {
      const providerKey = lookupKey(provider, LIMITS.provider)
      const subjectKey = lookupKey(subject, LIMITS.subject)
      if (providerKey === undefined || subjectKey === undefined) return undefined
      const row = await db.selectFrom(table).select('user_id')
        .where('provider', '=', providerKey).where('subject', '=', subjectKey).executeTakeFirst()
      return row?.user_id as string | undefined
    },

    async linkIdentity (id: string, identity: NewIdentity): Promise<boolean> {
      const key = lookupKey(id, LIMITS.id)
      const provider = lookupKey(identity?.provider, LIMITS.provider)
      const subject = lookupKey(identity?.subject, LIMITS.subject)
      if (key === undefined || provider === undefined || subject === undefined) return false
      const email = typeof identity.email === 'string' ? lookupKey(identity.email, LIMITS.email) ?? null : null
      try {
        // The keys refuse a second link: of concurrent links of one sign-in, one inserts.
        const result = await db.insertInto(table).columns(
          ['provider', 'subject', 'user_id', 'email', 'email_verified', 'linked_at']
        ).expression((eb) => eb.selectFrom(names.users).select([
          eb.val(provider).as('provider'), eb.val(subject).as('subject'), 'id',
          eb.val(email).as('email'), sql.lit(identity.emailVerified === true).as('email_verified'),
          eb.val(new Date().toISOString()).as('linked_at')
        ]).where('id', '=', key)).executeTakeFirst()
        // No such user: nothing inserted.
        return result.numInsertedOrUpdatedRows === 1n
      } catch (error) {
        if (isUniqueViolation(error)) return false
        throw error
      }
    },

    async listIdentities (id: string): Promise<UserIdentity[]> {
      const key = lookupKey(id, LIMITS.id)
      if (key === undefined) return []
      const rows = await db.selectFrom(table)
        .select(['provider', 'subject', 'email', 'email_verified', 'linked_at'])
        .where('user_id', '=', key).orderBy('linked_at').orderBy('provider').execute()
      return rows.map(identityOf)
    },

    async unlinkIdentity (id: string, provider: string): Promise<boolean> {
      const key = lookupKey(id, LIMITS.id)
      const providerKey = lookupKey(provider, LIMITS.provider)
      if (key === undefined || providerKey === undefined) return false
      const result = await db.deleteFrom(table).where('user_id', '=', key).where('provider', '=', providerKey)
        .executeTakeFirst()
      return result.numDeletedRows === 1n
    }
  }
}
