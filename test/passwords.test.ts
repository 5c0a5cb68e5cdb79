import { hash } from '@node-rs/argon2'
import t from 'tap'
import { hashPassword, needsRehash, OWASP_ARGON2ID, verifyPassword } from '../lib/index.js'
import { buildApp } from './helpers/app.js'

t.test('hashPassword makes argon2id hashes with OWASP parameters and a fresh salt', async (t) => {
  const first = await hashPassword('correct horse battery staple')
  const second = await hashPassword('correct horse battery staple')
  t.match(first, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
  t.not(first, second, 'salted')
  t.same(OWASP_ARGON2ID, { memoryCost: 19456, timeCost: 2, parallelism: 1 })
  t.ok(Object.isFrozen(OWASP_ARGON2ID))
})

t.test('verifyPassword', async (t) => {
  const hashed = await hashPassword('s3cret-Passw0rd')
  t.equal(await verifyPassword(hashed, 's3cret-Passw0rd'), true)
  t.equal(await verifyPassword(hashed, 's3cret-passw0rd'), false, 'case matters')
  t.equal(await verifyPassword(hashed, ''), false)
  t.equal(await verifyPassword('not-a-hash', 'x'), false, 'a malformed hash never matches')
  t.equal(await verifyPassword('$2b$10$abcdefghijklmnopqrstuu', 'x'), false, 'a bcrypt hash is not accepted')
  t.equal(await verifyPassword(undefined as unknown as string, 'x'), false)
  t.equal(await verifyPassword(hashed, undefined as unknown as string), false)
  const unicode = await hashPassword('пароль-密码-🔑')
  t.equal(await verifyPassword(unicode, 'пароль-密码-🔑'), true)
})

t.test('hashPassword refuses a non-string or empty password', async (t) => {
  await t.rejects(hashPassword(''), /non-empty string/)
  await t.rejects(hashPassword(undefined as unknown as string), /non-empty string/)
})

t.test('needsRehash flags weaker or other-algorithm hashes', async (t) => {
  t.equal(needsRehash(await hashPassword('x')), false)
  t.equal(needsRehash(await hash('x', { algorithm: 0, memoryCost: 19456, timeCost: 2 })), true, 'argon2d')
  t.equal(needsRehash(await hash('x', { algorithm: 1, memoryCost: 19456, timeCost: 2 })), true, 'argon2i')
  t.equal(needsRehash(await hash('x', { algorithm: 2, memoryCost: 8192, timeCost: 2 })), true, 'less memory')
  t.equal(needsRehash(await hash('x', { algorithm: 2, memoryCost: 19456, timeCost: 1 })), true, 'fewer passes')
  t.equal(needsRehash(await hash('x', { algorithm: 2, memoryCost: 19456, timeCost: 2, version: 0 })), true, 'argon2 v1.0')
  t.equal(needsRehash(await hash('x', { algorithm: 2, memoryCost: 65536, timeCost: 3 })), false, 'stronger is kept')
  t.equal(needsRehash('$2b$10$abcdefghijklmnopqrstuu'), true, 'bcrypt')
  t.equal(needsRehash('garbage'), true)
})

t.test('app.jwtAuth uses the configured parameters', async (t) => {
  const app = await buildApp(undefined, { options: { password: { memoryCost: 32768, timeCost: 3, parallelism: 2 } } })
  t.teardown(() => app.close())
  const hashed = await app.jwtAuth.hashPassword('pw')
  t.match(hashed, /^\$argon2id\$v=19\$m=32768,t=3,p=2\$/)
  t.equal(await app.jwtAuth.verifyPassword(hashed, 'pw'), true)
  t.equal(app.jwtAuth.needsRehash(hashed), false)
  t.equal(app.jwtAuth.needsRehash(await hashPassword('pw')), true, 'an OWASP-minimum hash is weaker than this configuration')
  t.equal(app.jwtAuth.needsRehash(await hash('x', { algorithm: 2, memoryCost: 32768, timeCost: 3, parallelism: 1 })), true, 'fewer lanes')
})

t.test('hashing runs off the event loop', async (t) => {
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 1)
  await Promise.all(Array.from({ length: 8 }, () => hashPassword('load')))
  clearInterval(timer)
  t.ok(ticks > 5, `the event loop kept turning during 8 hashes (${ticks} timer ticks)`)
})
