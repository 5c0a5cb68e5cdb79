// The passkey modules' edges that no route reaches: the challenge read from any value.
import t from 'tap'
import { challengeOf } from '../../lib/factors/passkey-challenges.js'

const clientData = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

t.test('challengeOf reads the challenge of client data, or null', async (t) => {
  t.equal(challengeOf({ response: { clientDataJSON: clientData({ challenge: 'abc_-' }) } }), 'abc_-')
  for (const value of [null, undefined, 'x', {}, { response: null }, { response: { clientDataJSON: 3 } },
    { response: { clientDataJSON: 'not base64url!' } }, { response: { clientDataJSON: clientData(null) } },
    { response: { clientDataJSON: clientData({ challenge: 'a b' }) } }, { response: { clientDataJSON: clientData({}) } },
    { response: { clientDataJSON: 'bm90IGpzb24' } }]) {
    t.equal(challengeOf(value), null, JSON.stringify(value))
  }
})

t.test('a proof for a user whose TOTP is off is a wrong one, of its kind', async (t) => {
  const { createProofChecks } = await import('../../lib/factors/second-proof.js')
  const checks = createProofChecks({ mfa: {} as never, users: {}, log: {} as never, assertions: null })
  const none = { totp: null, recoveryCodes: [] }
  t.same(await checks.check('1', none, { code: '123456' }), { wrong: 'wrong_code' })
  t.same(await checks.check('1', none, { recoveryCode: 'abcde-fghij' }), { wrong: 'wrong_recovery_code' })
  t.same(await checks.check('1', none, { passkey: {} }), { wrong: 'wrong_passkey' })
})
