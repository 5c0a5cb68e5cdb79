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
