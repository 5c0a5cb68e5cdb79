import type { Kysely } from 'kysely' with { 'resolution-mode': 'import' }
import { identitiesMigration } from './identities.js'
import { passkeysMigration } from './passkeys.js'
import { factorsMigration, resolveTables, usersMigration, type UsersMigration } from './schema.js'

/** Kysely's MigrationProvider (kysely/migration), as kyselyMigrations gives it. */
export interface KyselyMigrationProvider {
  getMigrations (): Promise<Record<string, UsersMigration>>
}

/** What Kysely's Migrator reports of each migration. */
export interface KyselyMigrationResult {
  migrationName: string
  direction: 'Up' | 'Down'
  status: 'Success' | 'Error' | 'NotExecuted'
}

interface Migrator {
  migrateToLatest (): Promise<{ error?: unknown, results?: KyselyMigrationResult[] }>
}

type MigratorClass = new (props: {
  db: Kysely<any>
  provider: KyselyMigrationProvider
  migrationTableName: string
  migrationLockTableName: string
}) => Migrator

// Kysely's migrator is in the subpath kysely/migration, which the CommonJS build's type resolution (node10) cannot
// see: loaded by a name TypeScript does not resolve, and typed above.
const MIGRATION_MODULE: string = 'kysely/migration'

export interface KyselyMigrationsOptions {
  /** Put before every table and index name the migrations create (`auth_` gives `auth_users`). Default none. */
  tablePrefix?: string
}

/**
 * The migrations' names: namespaced, and sortable, so that each release appends the next number and never
 * rewrites an earlier one.
 */
export const MIGRATIONS = [
  'fastify-jwt-auth-0001-users', 'fastify-jwt-auth-0002-mfa', 'fastify-jwt-auth-0003-identities',
  'fastify-jwt-auth-0004-passkeys'
] as const

/**
 * The schema of fastify-jwt-auth/kysely as a Kysely MigrationProvider, for your own Migrator (or kysely-ctl). Run
 * it with migration tables of its own (`migrationTableName` and `migrationLockTableName`, as migrateToLatest does),
 * so that its migrations and yours never have to interleave.
 */
export function kyselyMigrations (options: KyselyMigrationsOptions = {}): KyselyMigrationProvider {
  const names = resolveTables(options, 'kyselyMigrations')
  return {
    getMigrations: async () => ({
      [MIGRATIONS[0]]: usersMigration(names),
      [MIGRATIONS[1]]: factorsMigration(names),
      [MIGRATIONS[2]]: identitiesMigration(names),
      [MIGRATIONS[3]]: passkeysMigration(names)
    })
  }
}

/**
 * Creates or brings the tables up to date, with the migration tables of fastify-jwt-auth
 * (`<prefix>fastify_jwt_auth_migration` and `..._lock`): for an app that runs nothing else. Safe to run at every
 * start, from several instances at once (Kysely's migration lock). Resolves to what ran; throws what failed. The
 * db's plugins are left out, as kyselyUsers leaves them out.
 */
export async function migrateToLatest (
  db: Kysely<any>, options: KyselyMigrationsOptions = {}
): Promise<KyselyMigrationResult[]> {
  const names = resolveTables(options, 'migrateToLatest')
  const { Migrator } = await import(MIGRATION_MODULE) as { Migrator: MigratorClass }
  const migrator = new Migrator({
    db: db.withoutPlugins(),
    provider: kyselyMigrations(options),
    migrationTableName: names.migrationTable,
    migrationLockTableName: names.migrationLockTable
  })
  const { error, results } = await migrator.migrateToLatest()
  if (error !== undefined) throw error
  // Kysely leaves results out only with an error.
  return results!
}
