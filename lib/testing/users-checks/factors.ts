import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { created, HASH, settle, type MfaSubject, type UsersCheck, type UsersCheckContext } from './support.js'

// What the plugin stores: a sealed secret (opaque text) and recovery codes as `<key id>.<base64url HMAC>`.
const sealed = (): string =>
  `v1.default.${randomBytes(12).toString('base64url')}.${randomBytes(40).toString('base64url')}`
const codes = (count: number): string[] =>
  Array.from({ length: count }, () => `default.${randomBytes(32).toString('base64url')}`)

/** A check of the MFA group: passes at once for an adapter without it. */
function factorCheck (name: string, run: (mfa: MfaSubject, context: UsersCheckContext) => Promise<void>): UsersCheck {
  return {
    name,
    async run (context) {
      if (context.users.mfa !== undefined) await run(context.users.mfa, context)
    }
  }
}

async function newUser (context: UsersCheckContext): Promise<string> {
  return String((await created(context.users, { username: context.name('mfa'), passwordHash: HASH })).id)
}

/** The factors as the plugin reads them: null and undefined are no factors. */
async function factorsOf (mfa: MfaSubject, id: string): Promise<{ totp: unknown, recoveryCodes: unknown[] }> {
  const factors = await mfa.findFactors(id) as { totp?: unknown, recoveryCodes?: unknown } | null | undefined
  if (factors == null) return { totp: null, recoveryCodes: [] }
  assert.ok(Array.isArray(factors.recoveryCodes), 'findFactors: recoveryCodes is an array')
  return { totp: factors.totp ?? null, recoveryCodes: factors.recoveryCodes as unknown[] }
}

const sorted = (list: readonly unknown[]): unknown[] => [...list].map(String).sort()

export const factorChecks: UsersCheck[] = [
  factorCheck('enableTotp stores the sealed secret and its codes once; findFactors gives them back exactly',
    async (mfa, context) => {
      const [id, other] = [await newUser(context), await newUser(context)]
      assert.deepEqual(await factorsOf(mfa, id), { totp: null, recoveryCodes: [] }, 'a new user has no factors')
      assert.deepEqual(await factorsOf(mfa, `${id}0`), { totp: null, recoveryCodes: [] }, 'an unknown id has none')
      const factor = { totp: sealed(), recoveryCodes: codes(10) }
      assert.equal(await mfa.enableTotp(id, factor), true, 'enableTotp resolves to true')
      const stored = await factorsOf(mfa, id)
      assert.equal(stored.totp, factor.totp, 'findFactors: the sealed secret, exactly')
      assert.deepEqual(sorted(stored.recoveryCodes), sorted(factor.recoveryCodes), 'findFactors: the codes, exactly')
      assert.equal(await mfa.enableTotp(id, { totp: sealed(), recoveryCodes: codes(10) }), false,
        'a second enableTotp resolves to false')
      assert.equal((await factorsOf(mfa, id)).totp, factor.totp, 'and changes nothing')
      assert.deepEqual(await factorsOf(mfa, other), { totp: null, recoveryCodes: [] }, 'another user has none')
    }),

  factorCheck('of concurrent enableTotp calls for one user, exactly one resolves to true', async (mfa, context) => {
    const id = await newUser(context)
    const factors = Array.from({ length: context.concurrency }, () => ({ totp: sealed(), recoveryCodes: codes(4) }))
    const { values, errors } = await settle(factors.map((factor) => Promise.resolve(mfa.enableTotp(id, factor))))
    assert.deepEqual(errors, [], 'concurrent enableTotp calls resolve')
    assert.equal(values.filter((value) => value === true).length, 1, `one of ${context.concurrency} enables TOTP`)
    const stored = await factorsOf(mfa, id)
    const winner = factors.find((factor) => factor.totp === stored.totp)
    assert.ok(winner !== undefined, 'the secret stored is one of those given')
    assert.deepEqual(sorted(stored.recoveryCodes), sorted(winner.recoveryCodes), 'with its own codes, no others')
  }),

  factorCheck('useRecoveryCode spends a code once (once of concurrent uses); another user\'s code is not spent',
    async (mfa, context) => {
      const [id, other] = [await newUser(context), await newUser(context)]
      const [mine, theirs] = [codes(5), codes(5)]
      await mfa.enableTotp(id, { totp: sealed(), recoveryCodes: mine })
      await mfa.enableTotp(other, { totp: sealed(), recoveryCodes: theirs })
      assert.equal(await mfa.useRecoveryCode(id, theirs[0]!), false, 'another user\'s code: false')
      assert.equal(await mfa.useRecoveryCode(id, `${mine[0]!}x`), false, 'an unknown code: false')
      assert.equal(await mfa.useRecoveryCode(id, mine[0]!), true, 'the user\'s code: true')
      assert.equal(await mfa.useRecoveryCode(id, mine[0]!), false, 'the same code again: false')
      const { values, errors } = await settle(Array.from({ length: context.concurrency },
        () => Promise.resolve(mfa.useRecoveryCode(id, mine[1]!))))
      assert.deepEqual(errors, [], 'concurrent uses resolve')
      assert.equal(values.filter((value) => value === true).length, 1, `one of ${context.concurrency} uses spends it`)
      assert.deepEqual(sorted((await factorsOf(mfa, id)).recoveryCodes), sorted(mine.slice(2)), 'the others remain')
      assert.deepEqual(sorted((await factorsOf(mfa, other)).recoveryCodes), sorted(theirs), 'the other user\'s too')
    }),

  factorCheck('replaceRecoveryCodes, updateTotp (only over previous) and disableTotp change this user only',
    async (mfa, context) => {
      const [id, other] = [await newUser(context), await newUser(context)]
      const [secret, otherSecret] = [sealed(), sealed()]
      await mfa.enableTotp(id, { totp: secret, recoveryCodes: codes(4) })
      await mfa.enableTotp(other, { totp: otherSecret, recoveryCodes: codes(4) })
      const fresh = codes(6)
      await mfa.replaceRecoveryCodes(id, fresh)
      assert.deepEqual(sorted((await factorsOf(mfa, id)).recoveryCodes), sorted(fresh), 'the codes are the new ones')
      const resealed = sealed()
      await mfa.updateTotp(id, sealed(), { previous: otherSecret })
      assert.equal((await factorsOf(mfa, id)).totp, secret, 'updateTotp over another previous changes nothing')
      await mfa.updateTotp(id, resealed, { previous: secret })
      assert.equal((await factorsOf(mfa, id)).totp, resealed, 'updateTotp over the stored secret stores the new one')
      await mfa.disableTotp(id)
      assert.deepEqual(await factorsOf(mfa, id), { totp: null, recoveryCodes: [] }, 'disableTotp forgets both')
      assert.equal((await factorsOf(mfa, other)).totp, otherSecret, 'the other user keeps its secret')
      assert.equal((await factorsOf(mfa, other)).recoveryCodes.length, 4, 'and its codes')
      assert.equal(await mfa.enableTotp(id, { totp: sealed(), recoveryCodes: codes(4) }), true,
        'TOTP can be enabled again after disableTotp')
    })
]
