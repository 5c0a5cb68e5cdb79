import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import {
  created, found, HASH, settle, type IdentitiesSubject, type UsersCheck, type UsersCheckContext
} from './support.js'

type Identity = Parameters<IdentitiesSubject['linkIdentity']>[1]

const identity = (provider: string, subject: string, email: string | null = null, emailVerified = false): Identity =>
  ({ provider, subject, email, emailVerified })

/** A user of the check, and a provider name no other check uses (identities of earlier runs may share the table). */
async function userOf ({ users, name }: UsersCheckContext, what: string) {
  const user = await created(users, { username: name(what), passwordHash: HASH })
  return { id: String(user.id), provider: name('p').slice(0, 24) }
}

export const identityChecks: UsersCheck[] = [
  {
    name: 'create without a passwordHash makes a user without a password (identities group)',
    async run ({ users, name }) {
      if (users.identities === undefined) return
      const username = name('nopassword')
      const user = await created(users, { username })
      const byLogin = await found(users.findByLogin(username))
      assert.equal(String(byLogin?.id), String(user.id), 'findByLogin finds the user')
      assert.ok(byLogin?.passwordHash == null, 'the user carries no passwordHash: no password logs in as them')
    }
  },
  {
    name: 'linkIdentity links a sign-in that findByIdentity finds and listIdentities lists',
    async run (context) {
      const identities = context.users.identities
      if (identities === undefined) return
      const { id, provider } = await userOf(context, 'link')
      const subject = `Sub-${randomUUID()}`
      const before = Date.now() - 1000
      assert.equal(await identities.linkIdentity(id, identity(provider, subject, 'Ann@Example.test', true)), true,
        'linkIdentity resolves to true')
      assert.equal(String((await found(identities.findByIdentity(provider, subject)))?.id), id,
        'findByIdentity(provider, subject) finds the user')
      assert.equal(await found(identities.findByIdentity(provider, subject.toLowerCase())), null,
        'subjects are compared exactly (another case is another user of the provider)')
      assert.equal(await found(identities.findByIdentity(`${provider}x`, subject)), null, 'another provider: nothing')
      const list = await identities.listIdentities(id) as Array<Record<string, unknown>>
      assert.equal(list.length, 1, 'listIdentities lists it')
      const [{ linkedAt, ...fields }] = list as [Record<string, unknown>]
      assert.deepEqual(fields, identity(provider, subject, 'Ann@Example.test', true),
        'provider, subject, email and emailVerified as given')
      const time = Date.parse(linkedAt as string)
      assert.ok(typeof linkedAt === 'string' && time >= before && time <= Date.now() + 1000,
        `linkedAt is the ISO 8601 time of the link (got ${String(linkedAt)})`)
      assert.deepEqual(await identities.listIdentities(randomUUID()), [], 'an unknown user has none')
    }
  },
  {
    name: 'a sign-in links to one user, once; a user has one identity of each provider',
    async run (context) {
      const identities = context.users.identities
      if (identities === undefined) return
      const first = await userOf(context, 'once')
      const second = await userOf(context, 'other')
      const { provider } = first
      assert.equal(await identities.linkIdentity(first.id, identity(provider, 'one')), true, 'the first link')
      assert.equal(await identities.linkIdentity(first.id, identity(provider, 'one')), false, 'the same link again')
      assert.equal(await identities.linkIdentity(second.id, identity(provider, 'one')), false, 'to another user')
      assert.equal(await identities.linkIdentity(first.id, identity(provider, 'two')), false,
        'a second identity of the same provider')
      assert.equal(await identities.linkIdentity(randomUUID(), identity(provider, 'three')), false, 'an unknown user')
      assert.equal(await found(identities.findByIdentity(provider, 'three')), null, 'which links nothing')
      const racers = await Promise.all(Array.from({ length: context.concurrency }, () => userOf(context, 'race')))
      const { values, errors } = await settle(racers.map(({ id }) =>
        identities.linkIdentity(id, identity(provider, 'race'))))
      assert.deepEqual(errors, [], 'concurrent links resolve')
      assert.equal(values.filter((linked) => linked).length, 1,
        `of ${context.concurrency} concurrent links of one sign-in, exactly one links it`)
    }
  },
  {
    name: 'unlinkIdentity unlinks the user\'s identity of a provider; lookups of any string find nothing else',
    async run (context) {
      const identities = context.users.identities
      if (identities === undefined) return
      const { id, provider } = await userOf(context, 'unlink')
      const other = await userOf(context, 'keeps')
      await identities.linkIdentity(id, identity(provider, 'gone'))
      await identities.linkIdentity(other.id, identity(provider, 'kept'))
      assert.equal(await identities.unlinkIdentity(other.id, `${provider}x`), false, 'a provider the user lacks: false')
      assert.equal(await identities.unlinkIdentity(id, provider), true, 'unlinkIdentity resolves to true')
      assert.equal(await identities.unlinkIdentity(id, provider), false, 'then to false')
      assert.equal(await found(identities.findByIdentity(provider, 'gone')), null, 'the sign-in finds no one')
      assert.deepEqual(await identities.listIdentities(id), [], 'the user has none left')
      assert.equal(String((await found(identities.findByIdentity(provider, 'kept')))?.id), other.id,
        'another user\'s identity stays')
      assert.equal(await identities.linkIdentity(id, identity(provider, 'again')), true, 'the provider links again')
      for (const key of ['', '%', '_', "' OR '1'='1", '\0', '\uD800', 'x'.repeat(10_000)]) {
        assert.equal(await found(identities.findByIdentity(key, key)), null,
          `findByIdentity(${JSON.stringify(key.slice(0, 9))})`)
        assert.equal(await identities.unlinkIdentity(key, key), false,
          `unlinkIdentity(${JSON.stringify(key.slice(0, 9))})`)
        assert.equal(await identities.linkIdentity(key, identity(key, key)), false,
          `linkIdentity(${JSON.stringify(key.slice(0, 9))})`)
        assert.deepEqual(await identities.listIdentities(key), [], `listIdentities(${JSON.stringify(key.slice(0, 9))})`)
      }
    }
  },
  {
    name: 'findByEmail finds the user of an address, in any case; nothing for any other string',
    async run ({ users, name, email }) {
      if (users.findByEmail === undefined) return
      const address = email('byemail')
      const user = await created(users, { username: name('byemail'), passwordHash: HASH, email: address })
      for (const form of [address, address.toUpperCase()]) {
        assert.equal(String((await found(users.findByEmail(form)))?.id), String(user.id), `findByEmail(${form})`)
      }
      assert.ok((await found(users.findByEmail(address)))?.passwordHash === undefined, 'without the hash')
      for (const other of [email('unknown'), '', '%', '\0', 'x'.repeat(10_000)]) {
        assert.equal(await found(users.findByEmail(other)), null, `findByEmail(${JSON.stringify(other.slice(0, 9))})`)
      }
    }
  }
]
