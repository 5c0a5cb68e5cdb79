import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { created, HASH, settle, type PasskeysSubject, type UsersCheck, type UsersCheckContext } from './support.js'

type Passkey = Parameters<PasskeysSubject['addPasskey']>[1]

const base64url = (bytes: number): string => randomBytes(bytes).toString('base64url')

/** A passkey as the plugin stores one: a fresh credential id. */
export function passkey (name = 'Laptop', fields: Partial<Passkey> = {}): Passkey {
  return {
    id: base64url(32),
    publicKey: base64url(77),
    counter: 0,
    transports: ['internal', 'hybrid'],
    backedUp: true,
    name,
    createdAt: new Date().toISOString(),
    lastUsedAt: null,
    ...fields
  }
}

/** A user of the check, with a handle. */
async function userOf ({ users, name }: UsersCheckContext, passkeys: PasskeysSubject, what: string) {
  const id = String((await created(users, { username: name(what), passwordHash: HASH })).id)
  const handle = await passkeys.passkeyUserHandle(id, base64url(32))
  assert.ok(typeof handle === 'string', 'passkeyUserHandle resolves to a handle for a user')
  return { id, handle: handle! }
}

const HOSTILE = ['', '%', '_', "' OR '1'='1", '\0', '\uD800', 'x'.repeat(10_000)]

export const passkeyChecks: UsersCheck[] = [
  {
    name: 'passkeyUserHandle keeps one handle per user (the first candidate, of concurrent calls too); null for none',
    async run (context) {
      const passkeys = context.users.passkeys
      if (passkeys === undefined) return
      const id = String((await created(context.users, { username: context.name('handle'), passwordHash: HASH })).id)
      const candidates = Array.from({ length: context.concurrency }, () => base64url(32))
      const { values, errors } = await settle(candidates.map((candidate) => passkeys.passkeyUserHandle(id, candidate)))
      assert.deepEqual(errors, [], 'concurrent calls resolve')
      assert.equal(new Set(values).size, 1, `of ${context.concurrency} concurrent calls, all resolve to one handle`)
      assert.ok(candidates.includes(values[0]!), 'the handle is one of the candidates')
      assert.equal(await passkeys.passkeyUserHandle(id, base64url(32)), values[0], 'a later call gives it again')
      const other = await userOf(context, passkeys, 'otherhandle')
      assert.notEqual(other.handle, values[0], 'another user has another handle')
      assert.equal(await passkeys.passkeyUserHandle(randomUUID(), base64url(32)) ?? null, null, 'an unknown user: null')
    }
  },
  {
    name: 'addPasskey stores a passkey that findPasskey and listPasskeys give back exactly',
    async run (context) {
      const passkeys = context.users.passkeys
      if (passkeys === undefined) return
      const { id, handle } = await userOf(context, passkeys, 'addpasskey')
      const first = passkey('Laptop', { createdAt: '2026-01-01T00:00:00.000Z' })
      const second = passkey('Phone ☎', {
        counter: 4_294_967_295, transports: [], backedUp: false, createdAt: '2026-01-02T00:00:00.000Z', lastUsedAt: null
      })
      assert.equal(await passkeys.addPasskey(id, first), true, 'addPasskey resolves to true')
      assert.equal(await passkeys.addPasskey(id, second), true, 'a second passkey of the user')
      assert.deepEqual(await passkeys.findPasskey(first.id), { ...first, userId: id, userHandle: handle },
        'findPasskey gives it back exactly, with the user id and handle')
      assert.deepEqual(await passkeys.findPasskey(second.id), { ...second, userId: id, userHandle: handle },
        'a counter of 2^32 - 1, no transports, not backed up, any name: exactly')
      assert.equal(await passkeys.findPasskey(first.id.toUpperCase()) ?? null, null,
        'credential ids are compared exactly (another case is another credential)')
      assert.deepEqual(await passkeys.listPasskeys(id), [first, second], 'listPasskeys lists them, oldest first')
      assert.deepEqual(await passkeys.listPasskeys(randomUUID()), [], 'an unknown user has none')
    }
  },
  {
    name: 'a credential is stored once, for one user (once of concurrent adds); an unknown user gets none',
    async run (context) {
      const passkeys = context.users.passkeys
      if (passkeys === undefined) return
      const first = await userOf(context, passkeys, 'once')
      const second = await userOf(context, passkeys, 'thief')
      const key = passkey()
      assert.equal(await passkeys.addPasskey(first.id, key), true, 'the first add')
      assert.equal(await passkeys.addPasskey(first.id, key), false, 'the same credential again')
      assert.equal(await passkeys.addPasskey(second.id, { ...key, name: 'stolen' }), false, 'for another user')
      assert.equal((await passkeys.findPasskey(key.id))?.userId, first.id, 'which stays the first user\'s')
      const orphan = passkey()
      assert.equal(await passkeys.addPasskey(randomUUID(), orphan), false, 'an unknown user')
      assert.equal(await passkeys.findPasskey(orphan.id) ?? null, null, 'which stores nothing')
      const race = passkey()
      const racers = await Promise.all(Array.from({ length: context.concurrency }, () =>
        userOf(context, passkeys, 'race')))
      const { values, errors } = await settle(racers.map(({ id }) => passkeys.addPasskey(id, race)))
      assert.deepEqual(errors, [], 'concurrent adds resolve')
      assert.equal(values.filter((added) => added).length, 1,
        `of ${context.concurrency} concurrent adds of one credential, exactly one stores it`)
    }
  },
  {
    name: 'updatePasskey moves a counter from previousCounter only, once; removePasskey removes the user\'s own only',
    async run (context) {
      const passkeys = context.users.passkeys
      if (passkeys === undefined) return
      const { id, handle } = await userOf(context, passkeys, 'update')
      const other = await userOf(context, passkeys, 'keeps')
      const key = passkey('Key', { counter: 5 })
      const kept = passkey('Kept')
      await passkeys.addPasskey(id, key)
      await passkeys.addPasskey(other.id, kept)
      const use = { counter: 9, backedUp: false, lastUsedAt: '2026-02-01T00:00:00.000Z' }
      assert.equal(await passkeys.updatePasskey(key.id, use, { previousCounter: 4 }), false, 'over another counter')
      assert.equal((await passkeys.findPasskey(key.id))?.counter, 5, 'which changes nothing')
      const { values } = await settle(Array.from({ length: context.concurrency }, (_, index) =>
        passkeys.updatePasskey(key.id, { ...use, counter: 9 + index }, { previousCounter: 5 })))
      assert.equal(values.filter((moved) => moved).length, 1,
        `of ${context.concurrency} concurrent updates, one moves it`)
      const updated = await passkeys.findPasskey(key.id)
      assert.ok(updated !== null && updated !== undefined && updated.counter >= 9, 'the counter moved')
      assert.deepEqual({ ...updated, counter: 9 }, { ...key, ...use, userId: id, userHandle: handle },
        'backedUp and lastUsedAt as given, the rest as it was')
      assert.equal(await passkeys.removePasskey(other.id, key.id), false, 'another user\'s passkey: false')
      assert.equal(await passkeys.removePasskey(id, key.id), true, 'removePasskey resolves to true')
      assert.equal(await passkeys.removePasskey(id, key.id), false, 'then to false')
      assert.equal(await passkeys.findPasskey(key.id) ?? null, null, 'the passkey is gone')
      assert.deepEqual(await passkeys.listPasskeys(other.id), [kept], 'another user\'s passkey stays')
      for (const value of HOSTILE) {
        const label = JSON.stringify(value.slice(0, 9))
        assert.equal(await passkeys.findPasskey(value) ?? null, null, `findPasskey(${label})`)
        assert.equal(await passkeys.removePasskey(value, value), false, `removePasskey(${label})`)
        assert.equal(await passkeys.updatePasskey(value, use, { previousCounter: 0 }), false, `updatePasskey(${label})`)
        assert.deepEqual(await passkeys.listPasskeys(value), [], `listPasskeys(${label})`)
        assert.equal(await passkeys.passkeyUserHandle(value, base64url(32)) ?? null, null,
          `passkeyUserHandle(${label})`)
      }
    }
  }
]
