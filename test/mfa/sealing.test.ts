// Secrets at rest: TOTP secrets sealed with AES-256-GCM under the first key, opened with any listed key, bound to
// their user; recovery codes as keyed hashes, checked under the key they were made with.
import t from 'tap'
import { createSealing } from '../../lib/factors/sealing.js'

const key = (byte: number) => Buffer.alloc(32, byte)
const one = createSealing([{ id: 'k1', key: key(1) }])
const rotated = createSealing([{ id: 'k2', key: key(2) }, { id: 'k1', key: key(1) }])

t.test('a sealed secret opens for its user only, under any listed key; it never holds the plaintext', async (t) => {
  const sealed = one.seal('7', 'JBSWY3DPEHPK3PXP')
  t.match(sealed, /^v1\.k1\.[\w-]{16}\.[\w-]+$/)
  t.notMatch(sealed, /JBSWY3DPEHPK3PXP/)
  t.not(one.seal('7', 'JBSWY3DPEHPK3PXP'), sealed, 'a fresh IV each time')
  t.same(one.open('7', sealed), { plaintext: 'JBSWY3DPEHPK3PXP', current: true })
  t.equal(one.open('8', sealed), null, 'another user\'s row: the associated data differs')
  t.same(rotated.open('7', sealed), { plaintext: 'JBSWY3DPEHPK3PXP', current: false }, 'an older key: seal it again')
  t.match(rotated.seal('7', 'x'), /^v1\.k2\./, 'the first key seals')
  t.equal(createSealing([{ id: 'k2', key: key(2) }]).open('7', sealed), null, 'a key no longer listed')
  t.equal(createSealing([{ id: 'k1', key: key(3) }]).open('7', sealed), null, 'the same id, another key')
})

t.test('malformed or altered sealed secrets do not open', async (t) => {
  const sealed = one.seal('7', 'secret')
  const [version, id, iv, body] = sealed.split('.') as [string, string, string, string]
  const flipped = Buffer.from(body, 'base64url')
  flipped[0]! ^= 1
  for (const bad of [undefined, 42, '', 'v1', `v2.${id}.${iv}.${body}`, `${version}.k9.${iv}.${body}`,
    `${sealed}.x`, `${version}.${id}.${iv.slice(2)}.${body}`, `${version}.${id}.${iv}.${body.slice(0, 20)}`,
    `${version}.${id}.${iv}.${flipped.toString('base64url')}`, `${version}.${id}.${iv}`, `${version}.${id}`]) {
    t.equal(one.open('7', bad), null, JSON.stringify(bad))
  }
})

t.test('recovery codes: keyed hashes of the user and the code, found under the key they were made with', async (t) => {
  const hash = one.hashCode('7', 'abcde-fghij')
  t.match(hash, /^k1\.[\w-]{43}$/)
  t.not(hash, createSealing([{ id: 'k1', key: key(3) }]).hashCode('7', 'abcde-fghij'), 'keyed')
  t.not(hash, one.hashCode('8', 'abcde-fghij'), 'bound to the user')
  const newer = rotated.hashCode('7', 'zzzzz-zzzzz')
  t.match(newer, /^k2\./)
  const stored = [42, 'no-dot', 'k9.unknown', `k1.${'x'.repeat(43)}`, 'k1.short', hash, newer]
  t.equal(rotated.findCode('7', 'abcde-fghij', stored), hash, 'found under an older listed key')
  t.equal(rotated.findCode('7', 'zzzzz-zzzzz', stored), newer)
  t.equal(rotated.findCode('8', 'abcde-fghij', stored), undefined, 'not another user\'s')
  t.equal(rotated.findCode('7', 'wrong-codes', stored), undefined)
  t.equal(createSealing([{ id: 'k2', key: key(2) }]).findCode('7', 'abcde-fghij', stored), undefined,
    'not under a key no longer listed')
})
