import assert from 'node:assert/strict'
import { created, found, HASH, settle, statusOf, type UsersCheck, type UsersSubject } from './support.js'

// Strings of every shape a client can send: quotes and SQL, wildcards, look-alike and wide Unicode, controls,
// NUL, lone surrogates, 10 kB.
export const HOSTILE = [
  'o\'brien "quoted" `ticks`',
  'x\'); DROP TABLE users; --',
  'back\\slash \\\' \\"',
  '%_*?[a-z]',
  'аdmin (Cyrillic а)',
  'emoji 🦊 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  'right-to-left \u202Eevil',
  'nul \u0000 inside',
  'lone \uD800 surrogate',
  'lone \uDC00 low',
  'x'.repeat(10_240),
  '{"json":true}',
  '\r\n\t'
]

/** Stored exactly (`read` gives it back) or refused with a 400 before anything was stored; never another error. */
async function exactOrRefused (users: UsersSubject, what: string, create: () => Promise<unknown>,
  read: (user: Record<string, unknown>) => Promise<unknown>, value: string): Promise<void> {
  const { values, errors } = await settle([create()])
  if (errors.length > 0) {
    assert.equal(statusOf(errors[0]), 400, `${what}: stored, or refused with a 400 (got ${String(errors[0])})`)
    return
  }
  assert.equal(await read(values[0] as Record<string, unknown>), value, `${what}: read back exactly`)
}

export const hostileChecks: UsersCheck[] = [
  {
    name: 'hostile usernames are stored exactly or refused with a 400; lookups of any string find nothing else',
    async run ({ users, name }) {
      await created(users, { username: name('bystander'), passwordHash: HASH })
      for (const [index, hostile] of HOSTILE.entries()) {
        const what = `username #${index}`
        assert.equal(await found(users.findByLogin(hostile)), null, `${what}: findByLogin finds no one before create`)
        assert.equal(await found(users.findById(hostile)), null, `${what}: findById finds no one`)
        const username = `${name('h')} ${hostile}`
        await exactOrRefused(users, what, () => users.create({ username, passwordHash: HASH }),
          async () => (await found(users.findByLogin(username)))?.username, username)
      }
    }
  },
  {
    name: 'profile fields of every shape round-trip exactly or are refused with a 400',
    async run ({ users, name, profile }) {
      for (const field of profile) {
        for (const [index, hostile] of HOSTILE.entries()) {
          await exactOrRefused(users, `${field} #${index}`,
            () => users.create({ username: name('profile'), passwordHash: HASH, [field]: hostile }),
            async (user) => (await found(users.findById(String(user.id))))?.[field], hostile)
        }
      }
    }
  }
]
