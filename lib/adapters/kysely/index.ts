// The exports of fastify-jwt-auth/kysely (lib/kysely.ts), in one module that its entries load (scripts/build.js).
export { kyselyUsers, type KyselyUser, type KyselyUsers, type KyselyUsersOptions } from './users.js'
export {
  kyselyMigrations, migrateToLatest, MIGRATIONS, type KyselyMigrationsOptions, type KyselyMigrationProvider,
  type KyselyMigrationResult
} from './migrations.js'
export type { UsersMigration } from './schema.js'
export { sqliteDialect, type NodeSqliteDatabase, type NodeSqliteStatement } from './sqlite.js'
