// An attack that must fail: any unauthenticated client can kill a user's pending reset link with one /password/forgot per link.
import t from 'tap'
import { memoryStore } from '../../lib/index.js'
import { seedAccountUsers } from '../helpers/account-app.js'
import { buildHarness, cloneUsers, post } from '../helpers/account-harness.js'

t.test('an anonymous forgot for the victim\'s login does not cancel the link the victim holds', async (t) => {
  const app = await buildHarness(memoryStore(), cloneUsers(await seedAccountUsers()), {
    // As shipped: credentials rate limit (10 a minute per client address).
    options: { rateLimit: {} }
  })
  t.teardown(() => app.close())
  // The victim asks for a link.
  await post(app, '/auth/password/forgot', { username: 'alice' }, { 'x-forwarded-for': '1.1.1.1' })
  const victimLink = (await app.inbox.next('reset')).token
  // The attacker, from another address, knowing only the login name (1 request per 6 s keeps every link dead).
  const anon = await app.inject({ method: 'POST', url: '/auth/password/forgot', payload: { username: 'alice' }, remoteAddress: '6.6.6.6' })
  t.equal(anon.statusCode, 202)
  await app.inbox.next('reset', 1)
  const used = await post(app, '/auth/password/reset', { token: victimLink, password: 'victim-new-password' })
  t.equal(used.statusCode, 204, 'an anonymous request does not revoke the victim\'s link')
  t.comment(`messages the victim got: ${app.inbox.messages.length}`)
})
