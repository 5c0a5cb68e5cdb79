// kyselyUsers' MFA group beyond the conformance suite: 0002 upgrades a database of 0001 without touching its users,
// factors go with their user, and what no column can hold finds nothing and changes nothing.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kysely } from 'kysely'
import { Migrator } from 'kysely/migration'
import t, { type Test } from 'tap'
import { kyselyMigrations, kyselyUsers, migrateToLatest, MIGRATIONS, sqliteDialect } from '../../lib/kysely.js'

function sqliteFile (t: Test): Kysely<any> {
  const dir = mkdtempSync(join(tmpdir(), 'jwt-auth-mfa-'))
  const db = new Kysely<any>({ dialect: sqliteDialect(join(dir, 'users.sqlite')) })
  t.teardown(async () => {
    await db.destroy()
    rmSync(dir, { recursive: true, force: true })
  })
  return db
}

const CODE = `default.${'a'.repeat(43)}`

t.test('0002 upgrades a database of 0001: it adds tables, and its users keep their rows', async (t) => {
  const db = sqliteFile(t)
  const migrator = new Migrator({
    db,
    provider: kyselyMigrations(),
    migrationTableName: 'fastify_jwt_auth_migration',
    migrationLockTableName: 'fastify_jwt_auth_migration_lock'
  })
  t.equal((await migrator.migrateTo('fastify-jwt-auth-0001-users')).error, undefined)
  const users = kyselyUsers(db)
  const alice = await users.create({ username: 'alice', passwordHash: 'h', email: 'a@example.test' })
  const before = await db.selectFrom('users').selectAll().execute()
  t.same((await migrateToLatest(db)).map((result) => result.migrationName), MIGRATIONS.slice(1), 'the later ones only')
  t.same(await db.selectFrom('users').selectAll().execute(), before, 'the users table is as it was')
  const id = String((alice as { id: string }).id)
  t.equal(await users.enableTotp(id, { totp: 'sealed', recoveryCodes: [CODE] }), true)
  t.same(await users.findFactors(id), { totp: 'sealed', recoveryCodes: [CODE] })
  await db.deleteFrom('users').where('id', '=', id).execute()
  t.same(await users.findFactors(id), { totp: null, recoveryCodes: [] }, 'a deleted user\'s factors go with it')
})

t.test('ids and codes no column holds find nothing and change nothing; an unknown user is the database\'s error',
  async (t) => {
    const db = sqliteFile(t)
    await migrateToLatest(db)
    const users = kyselyUsers(db)
    const id = String((await users.create({ username: 'bob', passwordHash: 'h' }) as { id: string }).id)
    const long = 'x'.repeat(200)
    t.equal(await users.enableTotp(id, { totp: 's', recoveryCodes: [CODE, long] }), false, 'a code too long')
    t.equal(await users.enableTotp('\u0000', { totp: 's', recoveryCodes: [] }), false, 'an id no column holds')
    t.same(await users.findFactors(id), { totp: null, recoveryCodes: [] }, 'nothing stored')
    t.equal(await users.enableTotp(id, { totp: 's', recoveryCodes: [] }), true, 'no codes at all is allowed')
    await users.replaceRecoveryCodes(id, [CODE, long])
    await users.replaceRecoveryCodes('\uD800', [CODE])
    t.same(await users.findFactors(id), { totp: 's', recoveryCodes: [] }, 'unchanged')
    await users.replaceRecoveryCodes(id, [CODE])
    await users.replaceRecoveryCodes(id, [])
    t.same(await users.findFactors(id), { totp: 's', recoveryCodes: [] }, 'replaced by none')
    t.equal(await users.findFactors('x'.repeat(37)), null)
    t.equal(await users.useRecoveryCode(id, long), false)
    t.equal(await users.useRecoveryCode(long, CODE), false)
    await users.updateTotp(long, 'other', { previous: 's' })
    await users.disableTotp(long)
    t.same(await users.findFactors(id), { totp: 's', recoveryCodes: [] }, 'unchanged')
    await t.rejects(users.enableTotp('00000000-0000-0000-0000-000000000000', { totp: 's', recoveryCodes: [] }),
      { message: /FOREIGN KEY constraint failed/ }, 'no user of that id: the plugin never asks')
  })
