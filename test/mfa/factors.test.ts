// The factor modules on their own: recovery codes (the forms a person types them in, shapes refused before any
// hash), the testing kit's totpCode (from a secret or a URI).
import t from 'tap'
import { Secret, TOTP } from 'otpauth'
import { createRecoveryCodes, normalizeCode } from '../../lib/factors/recovery-codes.js'
import { createSealing } from '../../lib/factors/sealing.js'
import { createTotp } from '../../lib/factors/totp.js'
import { memoryStore } from '../../lib/index.js'
import { resolveStore } from '../../lib/stores/resolve.js'
import { totpCode } from '../../lib/testing.js'

const sealing = createSealing([{ id: 'k', key: Buffer.alloc(32, 7) }])

t.test('recovery codes: typed in any case, with or without the dash, with I, L and O for 1 and 0', async (t) => {
  const codes = createRecoveryCodes(sealing, 4)
  const { codes: shown, hashes } = codes.enrol('7')
  t.equal(shown.length, 4)
  t.equal(hashes.length, 4)
  const [first] = shown as [string]
  t.equal(codes.find('7', first, hashes), hashes[0])
  t.equal(codes.find('7', first.toUpperCase().replace('-', ' '), hashes), hashes[0])
  t.equal(codes.find('8', first, hashes), undefined, 'another user\'s')
  t.equal(normalizeCode('OIL0o-1ilAb'), '0110011iab'.replace('i', '1'))
  for (const bad of ['', 'abcde', 'abcde-fghjkm', 'abcde-fghju', 'abcde_fghjk', '€€€€€-€€€€€']) {
    t.equal(codes.find('7', bad, hashes), undefined, JSON.stringify(bad))
  }
})

t.test('totpCode: the code of a secret or of a setup\'s URI, at a given time', async (t) => {
  const secret = new Secret({ size: 20 })
  const at = 1_700_000_000_000
  const expected = TOTP.generate({ secret, timestamp: at })
  t.equal(totpCode(secret.base32, { timestamp: at }), expected)
  const uri = new TOTP({ secret, digits: 8, period: 60, label: 'a' }).toString()
  t.equal(totpCode(uri, { timestamp: at }), TOTP.generate({ secret, digits: 8, period: 60, timestamp: at }))
  t.equal(totpCode(secret.base32, { digits: 8, period: 60, timestamp: at }), totpCode(uri, { timestamp: at }))
  t.match(totpCode(secret.base32), /^\d{6}$/, 'now by default')
  t.throws(() => totpCode(''), { name: 'TypeError', message: /give the secret \(base32\) or the otpauth:\/\/ URI/ })
  t.throws(() => totpCode(undefined as unknown as string), { name: 'TypeError' })
  t.throws(() => totpCode('otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&counter=0'), { message: /not a TOTP one/ })
})

t.test('a TOTP code works once, and no older one after it; of two uses at once one wins', async (t) => {
  const given = memoryStore()
  t.teardown(() => given.close())
  const store = resolveStore(given, { timeoutMs: 1000, indexTtlSeconds: 60 })
  const totp = createTotp({ issuer: 'x', digits: 6, period: 30, window: 1 }, store)
  const secret = new Secret({ size: 20 }).base32
  const now = Date.now()
  const code = (offset: number) => totpCode(secret, { timestamp: now + offset * 30_000 })
  t.equal(await totp.verify('1', secret, code(0)), true)
  t.equal(await totp.verify('1', secret, code(0)), false, 'the same code again')
  t.equal(await totp.verify('2', secret, code(0)), true, 'another user\'s steps are their own')
  t.equal(await totp.verify('1', secret, code(1)), true, 'the next step\'s code (clock drift)')
  t.equal(await totp.verify('1', secret, code(-1)), false, 'an older step after a newer one')
  t.equal(await totp.verify('1', secret, code(3)), false, 'outside the window')
  t.equal(await totp.verify('1', secret, `${code(0)}00`), false, 'another length')
  const results = await Promise.all([totp.verify('3', secret, code(0)), totp.verify('3', secret, code(0))])
  t.same(results.sort(), [false, true], 'two uses at once: one wins')
})
