// The example server's users are in a database (fastify-jwt-auth/kysely): a SQLite file by default, created and
// migrated at the first start, alice, bob and dana seeded once; kept across restarts, dana's TOTP too (its key beside
// the file); PostgreSQL when DATABASE_URL is set.
// Run as the README runs it (`npm run example`, from source), each start a process of its own.
import { existsSync } from 'node:fs'
import { totpCode } from '../lib/testing.js'
import t from 'tap'
import { exampleDatabase, startExample } from './helpers/example-server.js'
import { sharedPostgres } from './helpers/postgres.js'

const PASSWORD = 'carol-password-123'

/** A captcha and its answer, which the example (only) writes to its log. */
async function captcha (base: string, output: () => string): Promise<{ captchaId: string, captcha: string }> {
  const seen = [...output().matchAll(/captcha answer \(example only\): (\w+)/g)].length
  const { captchaId } = await (await fetch(`${base}/auth/captcha`)).json() as { captchaId: string }
  for (let waited = 0; waited < 5_000; waited += 50) {
    const answers = [...output().matchAll(/captcha answer \(example only\): (\w+)/g)]
    if (answers.length > seen) return { captchaId, captcha: answers[seen]![1]! }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`no captcha answer in the log:\n${output()}`)
}

async function post (base: string, path: string, body: object): Promise<{ status: number, json: Record<string, any> }> {
  const reply = await fetch(`${base}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
  })
  return { status: reply.status, json: await reply.json() as Record<string, any> }
}

async function login (base: string, output: () => string, username: string, password: string) {
  return post(base, '/auth/login', { username, password, ...await captcha(base, output) })
}

t.test('a user registered before a restart logs in after it; the seeds are not made twice', async (t) => {
  const file = exampleDatabase(t)
  const first = await startExample(t, 'example', { logLevel: 'info', env: { DATABASE_FILE: file } })
  t.match(first.output(), /users: sqlite/)
  t.ok(existsSync(file), 'the database file is created at the first start')
  const registered = await post(first.base, '/auth/register', {
    username: 'carol', password: PASSWORD, displayName: 'Carol', email: 'carol@example.test', ...await captcha(first.base, first.output)
  })
  t.equal(registered.status, 201, JSON.stringify(registered.json))
  await first.stop()

  const second = await startExample(t, 'example', { logLevel: 'info', env: { DATABASE_FILE: file } })
  const carol = await login(second.base, second.output, 'carol', PASSWORD)
  t.equal(carol.status, 200, 'carol logs in after the restart')
  const me = await fetch(`${second.base}/auth/me`, { headers: { authorization: `Bearer ${carol.json.access_token}` } })
  t.match(await me.json(), { username: 'carol', displayName: 'Carol', email: 'carol@example.test', roles: ['user'] })
  const alice = await login(second.base, second.output, 'alice', 'alice-password')
  t.equal(alice.status, 200, 'alice, seeded at the first start, logs in')
  const list = await fetch(`${second.base}/api/admin/users`, { headers: { authorization: `Bearer ${alice.json.access_token}` } })
  const users = await list.json() as Array<{ username: string, roles: string[] }>
  t.same(users.map((user) => user.username), ['alice', 'bob', 'dana', 'carol'], 'the seeds were made once')
  t.same(users[0]!.roles, ['admin', 'user'])

  // dana's TOTP, turned on at her seeding, still opens: the development key was kept beside the file.
  const secret = /TOTP secret of dana \(example only, shown once\): (\w+)/.exec(first.output())?.[1]
  t.ok(secret, 'her secret was logged once, at the first start')
  t.notMatch(second.output(), /TOTP secret of dana/, 'and not at the second')
  t.ok(existsSync(`${file}.mfa-key`), 'the development key is kept beside the database file')
  const dana = await login(second.base, second.output, 'dana', 'dana-password')
  t.match(dana.json, { mfa_required: true, methods: ['totp', 'recovery_code'] }, 'no tokens before her second factor')
  t.notOk(dana.json.access_token)
  const verified = await post(second.base, '/auth/mfa/verify', { mfa_token: dana.json.mfa_token, code: totpCode(secret!) })
  t.equal(verified.status, 200, JSON.stringify(verified.json))
  t.match(JSON.parse(Buffer.from(verified.json.access_token.split('.')[1], 'base64url').toString()), { amr: ['pwd', 'otp'] })
})

t.test('with DATABASE_URL the users are in PostgreSQL', async (t) => {
  const url = await (await sharedPostgres()).createDatabase()
  const env = { DATABASE_URL: url, MFA_ENCRYPTION_KEY: 'a-key-of-this-test-only-not-kept-on-disk-0123456789' }
  const { base, output } = await startExample(t, 'example', { logLevel: 'info', env })
  t.match(output(), /users: postgresql/)
  t.equal((await login(base, output, 'alice', 'alice-password')).status, 200, 'alice was seeded in PostgreSQL')
})
