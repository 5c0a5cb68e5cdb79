// Types from kysely (an ES module) as an ES module imports them, also in the CommonJS build's declarations.
import type { Kysely } from 'kysely' with { 'resolution-mode': 'import' }
import type { StoredFactors } from '../../config/options.js'
import { LIMITS, type TableNames } from './schema.js'
import { lookupKey } from './text.js'

/**
 * The `users` MFA group over the tables of migration 0002. What the plugin gives is stored as it is (sealed
 * secrets, hashed codes); an id or a code no column can hold finds nothing and changes nothing.
 */
export function kyselyFactors (db: Kysely<any>, names: TableNames, isUniqueViolation: (error: unknown) => boolean) {
  const { totp, recoveryCodes } = names
  const rowsOf = (userId: string, codes: readonly string[]) =>
    codes.map((code) => ({ user_id: userId, code_hash: code }))
  const codeKey = (code: unknown) => lookupKey(code, LIMITS.codeHash)

  return {
    async findFactors (id: string): Promise<StoredFactors | null> {
      const key = lookupKey(id, LIMITS.id)
      if (key === undefined) return null
      const [secret, codes] = await Promise.all([
        db.selectFrom(totp).select('secret').where('user_id', '=', key).executeTakeFirst(),
        db.selectFrom(recoveryCodes).select('code_hash').where('user_id', '=', key).execute()
      ])
      return {
        totp: (secret?.secret as string | undefined) ?? null,
        recoveryCodes: codes.map((row) => row.code_hash as string)
      }
    },

    async enableTotp (id: string, factor: { totp: string, recoveryCodes: string[] }): Promise<boolean> {
      const key = lookupKey(id, LIMITS.id)
      if (key === undefined || !factor.recoveryCodes.every((code) => codeKey(code) !== undefined)) return false
      try {
        await db.transaction().execute(async (trx) => {
          // The primary key refuses a second TOTP: of concurrent confirmations one inserts.
          await trx.insertInto(totp).values({ user_id: key, secret: factor.totp, created_at: new Date().toISOString() })
            .execute()
          await trx.deleteFrom(recoveryCodes).where('user_id', '=', key).execute()
          if (factor.recoveryCodes.length > 0) {
            await trx.insertInto(recoveryCodes).values(rowsOf(key, factor.recoveryCodes)).execute()
          }
        })
      } catch (error) {
        if (isUniqueViolation(error)) return false
        throw error
      }
      return true
    },

    async updateTotp (id: string, secret: string, context: { previous: string }): Promise<void> {
      const key = lookupKey(id, LIMITS.id)
      if (key === undefined) return
      await db.updateTable(totp).set({ secret }).where('user_id', '=', key).where('secret', '=', context.previous)
        .execute()
    },

    async disableTotp (id: string): Promise<void> {
      const key = lookupKey(id, LIMITS.id)
      if (key === undefined) return
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom(recoveryCodes).where('user_id', '=', key).execute()
        await trx.deleteFrom(totp).where('user_id', '=', key).execute()
      })
    },

    async replaceRecoveryCodes (id: string, codes: string[]): Promise<void> {
      const key = lookupKey(id, LIMITS.id)
      if (key === undefined || !codes.every((code) => codeKey(code) !== undefined)) return
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom(recoveryCodes).where('user_id', '=', key).execute()
        if (codes.length > 0) await trx.insertInto(recoveryCodes).values(rowsOf(key, codes)).execute()
      })
    },

    async useRecoveryCode (id: string, code: string): Promise<boolean> {
      const key = lookupKey(id, LIMITS.id)
      const hash = codeKey(code)
      if (key === undefined || hash === undefined) return false
      // A delete is the spend: of concurrent uses of one code, one deletes the row.
      const result = await db.deleteFrom(recoveryCodes).where('user_id', '=', key).where('code_hash', '=', hash)
        .executeTakeFirst()
      return result.numDeletedRows === 1n
    }
  }
}
