// The MFA routes end to end through kyselyUsers, on SQLite (node:sqlite) and on a PostgreSQL server of the test's
// own: register, enrol, the two-step login with a code and with a recovery code, new codes, turning it off.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { Kysely, type Dialect } from 'kysely'
import t, { type Test } from 'tap'
import jwtAuth, { memoryStore } from '../../lib/index.js'
import { kyselyUsers, migrateToLatest, sqliteDialect } from '../../lib/kysely.js'
import { totpCode } from '../../lib/testing.js'
import { SECRET } from '../helpers/app.js'
import { MFA_KEY } from '../helpers/mfa-app.js'
import { postgresDialect } from '../helpers/postgres.js'

const DATABASES: Array<{ name: string, dialect: (t: Test) => Promise<Dialect> }> = [
  {
    name: 'SQLite',
    dialect: async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'jwt-auth-mfa-routes-'))
      t.teardown(() => rmSync(dir, { recursive: true, force: true }))
      return sqliteDialect(join(dir, 'users.sqlite'))
    }
  },
  {
    name: 'PostgreSQL',
    dialect: async () => await postgresDialect()
  }
]

for (const { name, dialect } of DATABASES) {
  t.test(`${name}: register, enrol, log in with a code and with a recovery code, new codes, off`, async (t) => {
    const db = new Kysely<any>({ dialect: await dialect(t) })
    t.teardown(() => db.destroy())
    await migrateToLatest(db)
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(jwtAuth, {
      secret: SECRET,
      store: memoryStore(),
      rateLimit: false,
      users: kyselyUsers(db),
      routes: { captcha: false },
      mfa: { encryptionKey: MFA_KEY }
    })
    const password = 'a long enough password'
    const registered = await app.inject({ method: 'POST', url: '/auth/register', payload: { username: 'erin', password } })
    t.equal(registered.statusCode, 201)
    const headers = { authorization: `Bearer ${registered.json().access_token}` }
    const { secret } = (await app.inject({ method: 'POST', url: '/auth/mfa/totp/setup', headers })).json()
    const confirmed = await app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm', headers, payload: { code: totpCode(secret, { timestamp: Date.now() - 30_000 }) } })
    t.equal(confirmed.statusCode, 200)
    const { recoveryCodes } = confirmed.json()
    const stored = await db.selectFrom('user_totp').select('secret').executeTakeFirstOrThrow()
    t.notOk(String(stored.secret).includes(secret), 'the secret sealed in the table')

    const login = async () => (await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'erin', password } })).json()
    const verify = (payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/auth/mfa/verify', payload })
    const byCode = await verify({ mfa_token: (await login()).mfa_token, code: totpCode(secret) })
    t.equal(byCode.statusCode, 200)
    const byRecovery = await verify({ mfa_token: (await login()).mfa_token, recovery_code: recoveryCodes[0] })
    t.equal(byRecovery.statusCode, 200)
    t.equal((await verify({ mfa_token: (await login()).mfa_token, recovery_code: recoveryCodes[0] })).statusCode, 401, 'once')
    const recent = { authorization: `Bearer ${byRecovery.json().access_token}` }
    const fresh = await app.inject({ method: 'POST', url: '/auth/mfa/recovery-codes', headers: recent })
    t.equal(fresh.json().recoveryCodes.length, 10)
    t.equal((await db.selectFrom('user_recovery_codes').select('code_hash').execute()).length, 10)
    t.equal((await app.inject({ method: 'DELETE', url: '/auth/mfa/totp', headers: recent })).statusCode, 204)
    t.equal((await db.selectFrom('user_recovery_codes').select('code_hash').execute()).length, 0)
    t.ok((await login()).access_token, 'off: the password alone logs in')
  })
}
