// The account flows from the attacker's side: replayed, foreign, malformed and
// expired tokens, races, what the answers and the logs give away, and the rate limit.
import t from 'tap'
import { bearer, craftToken, STORE_FACTORIES, type AnyStore } from './helpers/app.js'
import { Inbox, loginRequest, OLD_PASSWORD, seedAccountUsers, withoutCounters } from './helpers/account-app.js'
import { buildHarness, cloneUsers, failingOnce, post, sleep, tokenDigest, within, type HarnessApp, type HarnessOptions } from './helpers/account-harness.js'
import { fakeClock } from './helpers/clock.js'
import { CAPTCHA_TEXT, fixedCaptcha } from './helpers/routes-app.js'
import { eventually } from './helpers/eventually.js'

// Every flow on four stores, argon2 on each password: more than tap's default per file on a busy machine.
t.setTimeout(180_000)

const NEW_PASSWORD = 'new-password-2'
const RESET_INVALID = 'FST_JWT_AUTH_RESET_TOKEN_INVALID'
const VERIFY_INVALID = 'FST_JWT_AUTH_VERIFICATION_TOKEN_INVALID'
const VALIDATION = 'FST_ERR_VALIDATION'
const WEAK = 'FST_JWT_AUTH_WEAK_PASSWORD'

const seed = await seedAccountUsers()

const forgot = (app: HarnessApp, login: unknown) => post(app, '/auth/password/forgot', { username: login })
const reset = (app: HarnessApp, token: unknown, password: unknown = NEW_PASSWORD) => post(app, '/auth/password/reset', { token, password })
const verify = (app: HarnessApp, token: unknown) => post(app, '/auth/email/verify', { token })
const me = (app: HarnessApp, accessToken: string) => app.inject({ url: '/auth/me', headers: bearer(accessToken) })
const refresh = (app: HarnessApp, refreshToken: string) => post(app, '/auth/refresh', { refresh_token: refreshToken })
const change = (app: HarnessApp, accessToken: string, currentPassword: unknown, newPassword: unknown) =>
  post(app, '/auth/password/change', { currentPassword, newPassword }, bearer(accessToken))

/** Everything the store holds, as text, where the test can read it (null: it cannot). */
async function storeContents (store: AnyStore): Promise<string | null> {
  const kv = store as { entries?: Map<string, { value: string }> }
  if (kv.entries instanceof Map) return [...kv.entries].map(([key, { value }]) => `${key}=${value}`).join('\n')
  const redis = store as { client?: { keys: (pattern: string) => Promise<string[]>, type: (key: string) => Promise<string>, get: (key: string) => Promise<string | null>, hgetall: (key: string) => Promise<Record<string, string>>, zrange: (key: string, start: number, stop: number) => Promise<string[]> }, keyPrefix?: string }
  if (redis.client === undefined || redis.keyPrefix === undefined) return null
  const lines: string[] = []
  for (const key of await redis.client.keys(`${redis.keyPrefix}*`)) {
    const type = await redis.client.type(key)
    if (type === 'string') lines.push(`${key}=${await redis.client.get(key)}`)
    if (type === 'hash') lines.push(`${key}=${JSON.stringify(await redis.client.hgetall(key))}`)
    if (type === 'zset') lines.push(`${key}=${JSON.stringify(await redis.client.zrange(key, 0, -1))}`)
  }
  return lines.join('\n')
}

for (const { name, create } of STORE_FACTORIES) {
  // A key-value store without increment cannot count for the lockout and the message limits (refused at register).
  const counts = name !== 'key-value'
  t.test(`the attacker's view of the account flows on the ${name} store`, async (t) => {
    const build = async (setup: HarnessOptions = {}) => {
      const store = await create()
      t.teardown(() => store.close?.())
      const inbox = setup.inbox ?? new Inbox()
      const routes = counts ? setup.routes : withoutCounters(setup.routes ?? {}, inbox)
      const app = await buildHarness(store, cloneUsers(seed), { ...setup, inbox, routes })
      t.teardown(() => app.close())
      return Object.assign(app, { store })
    }

    t.test('replay: a reset token and a verification token each work once', async (t) => {
      const app = await build()
      t.equal((await forgot(app, 'alice')).statusCode, 202)
      const { token } = await app.inbox.next('reset')
      t.equal((await reset(app, token, NEW_PASSWORD)).statusCode, 204)
      const again = await reset(app, token, 'attacker-password')
      t.equal(again.statusCode, 400, 'the second use')
      t.equal(again.json().code, RESET_INVALID)
      t.equal(app.calls.updatePasswordHash, 1, 'the password was written once')
      t.equal((await loginRequest(app, 'alice', 'attacker-password')).statusCode, 401, 'the replay set nothing')
      t.equal((await loginRequest(app, 'alice', NEW_PASSWORD)).statusCode, 200)

      await app.jwtAuth.requestEmailVerification(2)
      const message = await app.inbox.next('verify')
      t.equal((await verify(app, message.token)).statusCode, 204)
      const replayed = await verify(app, message.token)
      t.equal(replayed.statusCode, 400)
      t.equal(replayed.json().code, VERIFY_INVALID)
      t.equal(app.calls.markEmailVerified, 1)
    })

    t.test('the store keeps a hash of the token, never the token', { skip: name === 'memory' && 'the memory store keeps its entries private' }, async (t) => {
      const app = await build()
      await app.jwtAuth.requestPasswordReset('alice')
      await app.jwtAuth.requestEmailVerification(2)
      const contents = await storeContents(app.store)
      if (contents === null) throw new Error(`cannot read the ${name} store`)
      for (const { kind, token } of app.inbox.messages) {
        t.notOk(contents.includes(token), `the ${kind} token is not in the store`)
        t.ok(contents.includes(tokenDigest(token)), `its SHA-256 is (${kind})`)
      }
    })

    t.test('a token of one kind (or of a changed spelling) is refused by the other route and stays usable', async (t) => {
      const app = await build()
      await app.jwtAuth.requestEmailVerification(2)
      await app.jwtAuth.requestPasswordReset('bob')
      const { token: verifyToken } = await app.inbox.next('verify')
      const { token: resetToken } = await app.inbox.next('reset')
      const crossed = await reset(app, verifyToken)
      t.equal(crossed.statusCode, 400)
      t.equal(crossed.json().code, RESET_INVALID, 'a verification token does not reset')
      const crossedBack = await verify(app, resetToken)
      t.equal(crossedBack.statusCode, 400)
      t.equal(crossedBack.json().code, VERIFY_INVALID, 'a reset token does not verify')
      t.equal(app.calls.updatePasswordHash + app.calls.markEmailVerified, 0, 'nothing was written')
      t.equal((await reset(app, resetToken)).statusCode, 204, 'neither was spent by the wrong use')
      t.equal((await verify(app, verifyToken)).statusCode, 204)
    })

    for (const route of ['reset', 'verify'] as const) {
      t.test(`tokens in the wrong shape at /${route === 'reset' ? 'password/reset' : 'email/verify'}: 4xx, never 2xx nor 5xx, never a hang`, async (t) => {
        const app = await build()
        const { access_token: accessToken } = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
        if (route === 'reset') await app.jwtAuth.requestPasswordReset('alice')
        else await app.jwtAuth.requestEmailVerification(2)
        const { token } = await app.inbox.next(route)
        const invalid = route === 'reset' ? RESET_INVALID : VERIFY_INVALID
        const bodyOf = (value: unknown) => route === 'reset' ? { token: value, password: NEW_PASSWORD } : { token: value }
        const url = route === 'reset' ? '/auth/password/reset' : '/auth/email/verify'
        const swapped = `${token.slice(0, 20)}${token[20] === 'A' ? 'B' : 'A'}${token.slice(21)}`
        const cases: Array<[string, unknown, number, string?]> = [
          ['no token', route === 'reset' ? { password: NEW_PASSWORD } : {}, 400, VALIDATION],
          ['an empty token', bodyOf(''), 400, VALIDATION],
          ['42 characters', bodyOf('A'.repeat(42)), 400, invalid],
          ['44 characters', bodyOf('A'.repeat(44)), 400, invalid],
          ['the token less its last character', bodyOf(token.slice(0, 42)), 400, invalid],
          ['the token and one more', bodyOf(`${token}A`), 400, invalid],
          ['the token and a newline', bodyOf(`${token}\n`), 400, invalid],
          ['the token after a space', bodyOf(` ${token}`), 400, invalid],
          ['the token with base64 padding', bodyOf(`${token}=`), 400, invalid],
          ['the token with one character changed', bodyOf(swapped), 400, invalid],
          ['43 characters with +', bodyOf(`${'A'.repeat(42)}+`), 400, invalid],
          ['43 characters with /', bodyOf(`${'A'.repeat(42)}/`), 400, invalid],
          ['43 characters with .', bodyOf(`${'A'.repeat(42)}.`), 400, invalid],
          ['43 characters with a NUL', bodyOf(`${'A'.repeat(42)}\u0000`), 400, invalid],
          ['43 characters with a non-ASCII letter', bodyOf(`${'A'.repeat(42)}é`), 400, invalid],
          ['a short JWT', bodyOf(craftToken({ alg: 'HS256' }, { sub: '1' })), 400, invalid],
          ['an access token of the user', bodyOf(accessToken), 400, VALIDATION],
          ['129 characters', bodyOf('A'.repeat(129)), 400, VALIDATION],
          ['a 10 kB string', bodyOf('A'.repeat(10_000)), 400, VALIDATION],
          ['an object', bodyOf({ $ne: null }), 400, VALIDATION],
          ['a number', bodyOf(42), 400],
          ['a huge number', bodyOf(4.2e42), 400],
          ['null', bodyOf(null), 400],
          ['true', bodyOf(true), 400],
          ['an empty array', bodyOf([]), 400],
          ['an array of 43 characters', bodyOf(['A'.repeat(43)]), 400],
          ['an array of two tokens', bodyOf([token, token]), 400, VALIDATION],
          ...(route === 'reset'
            ? [
                ['the token with a password too short', { token, password: 'short' }, 400, WEAK],
                ['the token with a number as the password', { token, password: 42 }, 400, WEAK],
                ['the token with a 2000-character password', { token, password: 'p'.repeat(2000) }, 400, WEAK],
                ['the token with an object as the password', { token, password: { length: 20 } }, 400, VALIDATION],
                ['the token without a password', { token }, 400, VALIDATION]
              ] as Array<[string, unknown, number, string?]>
            : [])
        ]
        for (const [label, body, status, code] of cases) {
          const response = await within(2000, post(app, url, body))
          t.equal(response.statusCode, status, `${label}: ${response.statusCode} ${response.body.slice(0, 120)}`)
          if (code !== undefined) t.equal(response.json().code, code, `${label}: ${code}`)
        }
        const raw = (payload: string, contentType = 'application/json') =>
          within(2000, app.inject({ method: 'POST', url, payload, headers: { 'content-type': contentType } }))
        const huge = await raw(JSON.stringify(bodyOf('A'.repeat(100_000))))
        t.equal(huge.statusCode, 413, `a 100 kB token: a client error (the 16 kB body limit), not a 5xx: ${huge.body.slice(0, 120)}`)
        t.equal(huge.json().code, 'FST_ERR_CTP_BODY_TOO_LARGE')
        t.equal((await raw('{"token":')).statusCode, 400, 'malformed JSON')
        t.equal((await raw(`{"token":"${token}","__proto__":{"polluted":true}}`)).statusCode, 400, 'a __proto__ key')
        t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted')
        const text = await raw(token, 'text/plain')
        t.equal(text.statusCode, 400, `a text/plain body (a string, not the object the schema wants): ${text.body.slice(0, 120)}`)
        t.equal(text.json().code, VALIDATION)
        t.equal((await raw(token, 'application/x-www-form-urlencoded')).statusCode, 415, 'a form: no parser')
        t.equal(app.calls.updatePasswordHash + app.calls.markEmailVerified, 0, 'nothing was written')
        t.equal((await post(app, url, bodyOf(token))).statusCode, 204, 'and none of it spent the real token')
      })
    }

    t.test('an expired token: 400, and it is not restored', async (t) => {
      const inbox = new Inbox()
      const app = await build({
        inbox,
        routes: { passwordReset: { send: inbox.sender('reset'), ttl: '1s' }, emailVerification: { send: inbox.sender('verify'), ttl: '1s' } }
      })
      const clock = fakeClock(t)
      await app.jwtAuth.requestPasswordReset('alice')
      await app.jwtAuth.requestPasswordReset('bob')
      await app.jwtAuth.requestEmailVerification(2)
      const [alice, bob, bobVerify] = app.inbox.messages
      t.equal(alice!.expiresIn, 1)
      clock.now += 900
      t.equal((await reset(app, bob!.token)).statusCode, 204, 'still good at 0.9 s')
      clock.now += 200
      const expired = await reset(app, alice!.token)
      t.equal(expired.statusCode, 400, 'expired at 1.1 s')
      t.equal(expired.json().code, RESET_INVALID)
      const expiredVerify = await verify(app, bobVerify!.token)
      t.equal(expiredVerify.statusCode, 400)
      t.equal(expiredVerify.json().code, VERIFY_INVALID)
      clock.now -= 1000
      t.equal((await reset(app, alice!.token)).statusCode, 400, 'the expired token was spent, not put back: it stays dead')
      t.equal(app.calls.updatePasswordHash, 1, 'only bob\'s reset wrote')
    })

    t.test('ten concurrent resets with one token: exactly one 204, nine 400', async (t) => {
      const app = await build()
      for (let round = 0; round < 3; round++) {
        await app.jwtAuth.requestPasswordReset('alice')
        const { token } = app.inbox.messages.at(-1)!
        const passwords = Array.from({ length: 10 }, (_, i) => `round-${round}-password-${i}`)
        const answers = await Promise.all(passwords.map((password) => reset(app, token, password)))
        const statuses = answers.map((answer) => answer.statusCode)
        t.equal(statuses.filter((status) => status === 204).length, 1, `round ${round}: one winner (${statuses.join()})`)
        t.same(answers.filter((answer) => answer.statusCode !== 204).map((answer) => answer.json().code), Array(9).fill(RESET_INVALID), 'the others: invalid')
        t.equal(app.calls.updatePasswordHash, round + 1, 'one password written per round')
        const winner = passwords[statuses.indexOf(204)]!
        const loser = passwords[(statuses.indexOf(204) + 1) % 10]!
        t.equal((await loginRequest(app, 'alice', winner)).statusCode, 200, 'the winner\'s password is the one set')
        t.equal((await loginRequest(app, 'alice', loser)).statusCode, 401)
      }
      await app.jwtAuth.requestEmailVerification(2)
      const { token } = await app.inbox.next('verify')
      const verified = await Promise.all(Array.from({ length: 10 }, () => verify(app, token)))
      t.same(verified.map((answer) => answer.statusCode).sort(), [204, ...Array(9).fill(400)], 'ten concurrent verifications: one 204')
      t.equal(app.events.filter((event) => event.type === 'email.verify').length, 1)
    })

    t.test('a reset racing logins with the old password: no session of the old password survives', async (t) => {
      // A user store with some latency, so that lookups and writes interleave.
      const jitter = () => sleep(Math.floor(Math.random() * 3))
      const inbox = new Inbox()
      const app = await build({
        inbox,
        // The old password fails many times here, and alice asks for six resets: no lockout, no send limit in the way.
        routes: { lockout: false, passwordReset: { send: inbox.sender('reset'), perAccount: false } },
        callbacks: (defaults) => ({
          findByLogin: async (login) => { await jitter(); return defaults.findByLogin(login) },
          updatePasswordHash: async (id, hash) => { await jitter(); await defaults.updatePasswordHash(id, hash) }
        })
      })
      let current = OLD_PASSWORD
      const survivorsToCheck: Array<{ round: number, access_token: string, refresh_token: string }> = []
      let refusedByTheRace = 0
      for (let round = 0; round < 6; round++) {
        await app.jwtAuth.requestPasswordReset('alice')
        const { token } = app.inbox.messages.at(-1)!
        const next = `raced-password-${round}`
        const logins = Array.from({ length: 5 }, async () => {
          await sleep(Math.floor(Math.random() * 90))
          return loginRequest(app, 'alice', current)
        })
        // The reset starts anywhere in the logins' spread: some finish before it, some during, some after.
        const resetting = sleep(Math.floor(Math.random() * 60)).then(() => reset(app, token, next))
        const [answers, resetAnswer] = await Promise.all([Promise.all(logins), resetting])
        t.equal(resetAnswer.statusCode, 204, `round ${round}: the reset went through`)
        for (const answer of answers) {
          if (answer.statusCode === 200) survivorsToCheck.push({ ...answer.json(), round })
          else {
            t.equal(answer.statusCode, 401, `round ${round}: a login is 200 or 401 (${answer.statusCode} ${answer.body.slice(0, 100)})`)
            refusedByTheRace++
          }
        }
        current = next
      }
      // A login refused after its tokens were made (the password changed under it) has a failure event without a reason.
      const caughtLate = app.events.filter((event) => event.type === 'login.failure' && event.reason === undefined).length
      t.ok(survivorsToCheck.length > 0,
        `some logins with an old password got tokens (${survivorsToCheck.length}; ${refusedByTheRace} refused, ${caughtLate} of them after the check)`)
      for (const pair of survivorsToCheck) {
        t.equal((await me(app, pair.access_token)).statusCode, 401, `round ${pair.round}: the access token of an old-password login is revoked`)
        t.equal((await refresh(app, pair.refresh_token)).statusCode, 401, `round ${pair.round}: and its refresh token`)
      }
      t.equal((await loginRequest(app, 'alice', current)).statusCode, 200, 'the last password works')
    })

    t.test('forgot: a known and an unknown login get the same status, body and headers', async (t) => {
      const app = await build()
      const headersOf = (response: { headers: Record<string, unknown> }) => {
        const { date, ...rest } = response.headers
        return rest
      }
      const known = await forgot(app, 'alice')
      const unknown = await forgot(app, 'mallory')
      const longUnknown = await forgot(app, 'm'.repeat(256))
      for (const response of [known, unknown, longUnknown]) {
        t.equal(response.statusCode, 202)
        t.equal(response.body, known.body)
        t.same(headersOf(response), headersOf(known))
      }
      await app.inbox.next('reset')
      await sleep(20)
      t.equal(app.inbox.messages.length, 1, 'only the known login got a message')
      t.same(app.inbox.messages.map((message) => message.userId), ['1'])
    })

    t.test('forgot asks for the captcha as login does; a wrong one sends nothing, whatever the login', async (t) => {
      const app = await build({ routes: { captcha: fixedCaptcha } })
      const captchaId = async () => (await app.inject({ url: '/auth/captcha' })).json().captchaId as string
      const missing = await forgot(app, 'alice')
      t.equal(missing.statusCode, 400)
      t.equal(missing.json().code, 'FST_JWT_AUTH_INVALID_CAPTCHA')
      const wrongKnown = await post(app, '/auth/password/forgot', { username: 'alice', captchaId: await captchaId(), captcha: 'wrong' })
      const wrongUnknown = await post(app, '/auth/password/forgot', { username: 'mallory', captchaId: await captchaId(), captcha: 'wrong' })
      t.equal(wrongKnown.statusCode, 400)
      t.equal(wrongUnknown.body, wrongKnown.body, 'the same refusal for a known and an unknown login')
      const spent = await captchaId()
      t.equal((await post(app, '/auth/password/forgot', { username: 'alice', captchaId: spent, captcha: CAPTCHA_TEXT })).statusCode, 202)
      t.equal((await post(app, '/auth/password/forgot', { username: 'alice', captchaId: spent, captcha: CAPTCHA_TEXT })).statusCode, 400, 'a captcha answers once')
      await app.inbox.next('reset')
      await sleep(20)
      t.equal(app.inbox.messages.length, 1, 'one message: only the request with a right captcha was served')
    })

    t.test('forgot answers before the lookup and never waits on the mailer', async (t) => {
      let release!: () => void
      const gate = new Promise<void>((resolve) => { release = resolve })
      let sends = 0
      const app = await build({
        routes: { passwordReset: { send: () => { sends++; return new Promise(() => {}) } } },
        callbacks: (defaults) => ({ findByLogin: async (login) => { await gate; return defaults.findByLogin(login) } })
      })
      const first = await within(1000, forgot(app, 'alice'))
      t.equal(first.statusCode, 202, 'answered while the lookup is still pending')
      t.equal(sends, 0, 'nothing was sent yet: the lookup has not returned')
      release()
      t.ok(await eventually(() => sends === 1, 1000), 'then the mailer was called')
      const started = performance.now()
      const second = await within(1000, forgot(app, 'alice'))
      t.equal(second.statusCode, 202, `a mailer that never answers does not delay the 202 (${Math.round(performance.now() - started)} ms)`)
      t.equal(second.body, first.body)
      t.ok(await eventually(() => sends === 2, 1000), 'the second message is on its way too (and hangs)')
    })

    for (const mode of ['rejects', 'throws synchronously'] as const) {
      t.test(`a mailer that ${mode}: still 202, logged; no token, password or hash ever in a log line`, async (t) => {
        let resetToken: string | undefined
        const failing = ({ token }: { token: string }) => {
          resetToken = token
          if (mode === 'rejects') return Promise.reject(new Error('SMTP relay refused'))
          throw new Error('SMTP relay refused')
        }
        const app = await build({ routes: { passwordReset: { send: failing } } })
        const secrets: Array<[string, string]> = [['old password', OLD_PASSWORD], ['new password', NEW_PASSWORD], ['third password', 'third-password-3'],
          ['wrong current password', 'wrong-current-password'], ['password typed as a login', 'my-secret-typed-in-login'], ['seed hash', seed[0]!.passwordHash]]
        const pair = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
        await loginRequest(app, 'my-secret-typed-in-login', OLD_PASSWORD)
        const answer = await forgot(app, 'alice')
        t.equal(answer.statusCode, 202)
        t.ok(await eventually(() => app.logs.some((line) => line.includes('routes.passwordReset.send failed')), 1000), 'the failure is logged')
        const failure = JSON.parse(app.logs.find((line) => line.includes('routes.passwordReset.send failed'))!)
        t.equal(failure.level, 50, 'as an error')
        t.equal(failure.userId, '1')
        t.match(failure.err.message, 'SMTP relay refused')
        t.ok(resetToken, 'the mailer was given a token')
        t.equal((await reset(app, resetToken, 'short')).statusCode, 400)
        t.equal((await reset(app, `${resetToken!.slice(0, 42)}`, NEW_PASSWORD)).statusCode, 400)
        t.equal((await reset(app, resetToken, NEW_PASSWORD)).statusCode, 204, 'the token of the failed message still works')
        const second = (await loginRequest(app, 'alice', NEW_PASSWORD)).json()
        t.equal((await change(app, second.access_token, 'wrong-current-password', 'third-password-3')).statusCode, 401)
        const changed = await change(app, second.access_token, NEW_PASSWORD, 'third-password-3')
        t.equal(changed.statusCode, 200)
        const third = changed.json()
        const refreshed = (await refresh(app, third.refresh_token)).json()
        t.equal((await post(app, '/auth/logout', {}, bearer(refreshed.access_token))).statusCode, 204)
        const bob = (await loginRequest(app, 'bob', OLD_PASSWORD)).json()
        t.equal((await post(app, '/auth/email/verify/request', {}, bearer(bob.access_token))).statusCode, 202)
        const { token: verifyToken } = await app.inbox.next('verify')
        t.equal((await verify(app, verifyToken)).statusCode, 204)
        for (const [index, tokens] of [pair, second, third, refreshed, bob].entries()) {
          secrets.push([`access token ${index}`, tokens.access_token], [`refresh token ${index}`, tokens.refresh_token])
        }
        secrets.push(['reset token', resetToken!], ['reset token digest', tokenDigest(resetToken!)],
          ['verification token', verifyToken], ['verification token digest', tokenDigest(verifyToken)],
          ...app.users.map((user) => [`current hash of ${user.username}`, user.passwordHash] as [string, string]))
        t.ok(app.logs.length > 20, `the flow was logged (${app.logs.length} lines)`)
        for (const [label, secret] of secrets) {
          t.same(app.logs.filter((line) => line.includes(secret)), [], `no log line holds the ${label}`)
        }
      })
    }

    t.test('change with a too-weak new password: 400, nothing changed', async (t) => {
      const app = await build({ routes: { passwordPolicy: (password: string, { username }: { username: string }) => password.includes(username) ? 'no names' : undefined } })
      const here = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
      const elsewhere = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
      const weak: Array<[string, unknown, string]> = [
        ['too short', 'short', WEAK],
        ['refused by the policy', 'alice-in-wonderland', WEAK],
        ['too long', 'p'.repeat(1025), WEAK],
        ['a number', 42, WEAK],
        ['an object', { toString: 'x' }, VALIDATION],
        ['empty', '', WEAK]
      ]
      for (const [label, newPassword, code] of weak) {
        const response = await change(app, here.access_token, OLD_PASSWORD, newPassword)
        t.equal(response.statusCode, 400, label)
        t.equal(response.json().code, code, label)
      }
      t.equal(app.calls.updatePasswordHash, 0, 'no hash was written')
      for (const pair of [here, elsewhere]) {
        t.equal((await me(app, pair.access_token)).statusCode, 200, 'every session goes on')
      }
      t.equal((await refresh(app, elsewhere.refresh_token)).statusCode, 200)
      t.equal((await loginRequest(app, 'alice', OLD_PASSWORD)).statusCode, 200, 'the old password still works')
      t.notOk(app.events.some((event) => event.type === 'password.change'), 'no password.change event')
    })

    t.test('change with a revoked access token (logout, revokeAll) or a refresh token: 401, nothing changed', async (t) => {
      const app = await build()
      const loggedOut = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
      t.equal((await post(app, '/auth/logout', {}, bearer(loggedOut.access_token))).statusCode, 204)
      const afterLogout = await change(app, loggedOut.access_token, OLD_PASSWORD, NEW_PASSWORD)
      t.equal(afterLogout.statusCode, 401)
      t.equal(afterLogout.json().code, 'FST_JWT_AUTH_TOKEN_REVOKED')
      const pair = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
      t.equal((await change(app, pair.refresh_token, OLD_PASSWORD, NEW_PASSWORD)).statusCode, 401, 'a refresh token is no access token')
      await app.jwtAuth.revokeAll(1)
      const afterRevokeAll = await change(app, pair.access_token, OLD_PASSWORD, NEW_PASSWORD)
      t.equal(afterRevokeAll.statusCode, 401)
      t.equal(afterRevokeAll.json().code, 'FST_JWT_AUTH_TOKEN_REVOKED')
      t.equal((await change(app, 'not-a-token', OLD_PASSWORD, NEW_PASSWORD)).statusCode, 401)
      t.equal(app.calls.updatePasswordHash, 0)
      t.equal((await loginRequest(app, 'alice', OLD_PASSWORD)).statusCode, 200)
    })

    t.test('a password change cancels a pending reset token', async (t) => {
      const app = await build()
      await app.jwtAuth.requestPasswordReset('alice')
      const { token } = await app.inbox.next('reset')
      const pair = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
      t.equal((await change(app, pair.access_token, OLD_PASSWORD, NEW_PASSWORD)).statusCode, 200)
      const stale = await reset(app, token, 'attacker-password')
      t.equal(stale.statusCode, 400, 'a reset link from before the change no longer works')
      t.equal((await loginRequest(app, 'alice', NEW_PASSWORD)).statusCode, 200)
    })

    t.test('two forgot requests at once, then a reset with either: no reset token of the user works after it',
      {},
      async (t) => {
        // Four requests for alice: no send limit in the way.
        const inbox = new Inbox()
        const app = await build({ inbox, routes: { passwordReset: { send: inbox.sender('reset'), perAccount: false } } })
        for (const order of [[0, 1], [1, 0]] as const) {
          const from = app.inbox.messages.length
          await Promise.all([app.jwtAuth.requestPasswordReset('alice'), app.jwtAuth.requestPasswordReset('alice')])
          const tokens = app.inbox.messages.slice(from).map((message) => message.token)
          t.equal(tokens.length, 2)
          // Of two tokens issued at once, the one the user's pointer names works; the other never does.
          const first = (await reset(app, tokens[order[0]], `first-of-${order.join('')}`)).statusCode
          const second = (await reset(app, tokens[order[1]], `second-of-${order.join('')}`)).statusCode
          t.same([first, second].sort(), [204, 400], `order ${order.join()}: exactly one of the two resets the password`)
          t.equal((await reset(app, tokens[order[0]], 'after-both')).statusCode, 400, 'none works after the reset')
          t.equal((await reset(app, tokens[order[1]], 'after-both')).statusCode, 400, 'none works after the reset')
        }
      })

    t.test('a reset token refused for its password while a new one is issued: after a reset no link works',
      {},
      async (t) => {
        let release!: () => void
        const gate = new Promise<void>((resolve) => { release = resolve })
        let inPolicy = false
        const app = await build({
          routes: {
            passwordPolicy: async (password: string) => {
              if (password !== 'refused-slowly') return undefined
              inPolicy = true
              await gate
              return 'refused'
            }
          }
        })
        await app.jwtAuth.requestPasswordReset('alice')
        const older = app.inbox.messages.at(-1)!.token
        const refused = reset(app, older, 'refused-slowly')
        t.ok(await eventually(() => inPolicy, 1000), 'the refused reset holds the token')
        await app.jwtAuth.requestPasswordReset('alice')
        const newer = app.inbox.messages.at(-1)!.token
        release()
        t.equal((await refused).statusCode, 400)
        // The refused reset put its link back; it works, and once it has reset the password no other link does.
        t.equal((await reset(app, older, 'via-the-older-token')).statusCode, 204)
        t.equal((await reset(app, newer, 'via-the-newer-token')).statusCode, 400, 'and none works after a reset')
        t.equal((await reset(app, older, 'again')).statusCode, 400)
      })

    t.test('the user database fails to store the new password: an error, never 2xx, the password unchanged, the sessions ended', async (t) => {
      const app = await build({ callbacks: (defaults) => ({ updatePasswordHash: failingOnce(defaults.updatePasswordHash) }) })
      const session = (await loginRequest(app, 'alice', OLD_PASSWORD)).json()
      await app.jwtAuth.requestPasswordReset('alice')
      const { token } = await app.inbox.next('reset')
      const failed = await reset(app, token)
      t.equal(failed.statusCode, 500, `the app's own error: ${failed.statusCode}`)
      // Sessions end before the hash is written: a failed write never leaves a hijacked session alive.
      t.equal((await me(app, session.access_token)).statusCode, 401, 'the sessions ended anyway (fail closed)')
      t.equal((await loginRequest(app, 'alice', OLD_PASSWORD)).statusCode, 200, 'the old password still works')
    })

    t.test('the user database fails to store the new password: the token is not spent, the user retries',
      {},
      async (t) => {
        const app = await build({ callbacks: (defaults) => ({ updatePasswordHash: failingOnce(defaults.updatePasswordHash) }) })
        await app.jwtAuth.requestPasswordReset('alice')
        const { token } = await app.inbox.next('reset')
        t.equal((await reset(app, token)).statusCode, 500)
        const retry = await reset(app, token)
        t.equal(retry.statusCode, 204, `the retry: ${retry.statusCode} ${retry.body}`)
      })

    t.test('the user database fails to mark the address verified: the token is not spent, the user retries',
      {},
      async (t) => {
        const app = await build({ callbacks: (defaults) => ({ markEmailVerified: failingOnce(defaults.markEmailVerified) }) })
        await app.jwtAuth.requestEmailVerification(2)
        const { token } = await app.inbox.next('verify')
        t.equal((await verify(app, token)).statusCode, 500)
        t.equal(app.users[1]!.emailVerified, false)
        const retry = await verify(app, token)
        t.equal(retry.statusCode, 204, `the retry: ${retry.statusCode} ${retry.body}`)
      })

    t.test('the new routes are in the credentials rate-limit class: 10 forgot, then 429 everywhere there; refresh still works', async (t) => {
      const app = await build({ options: { rateLimit: {} } })
      const pair = await app.jwtAuth.issue({ id: 1, roles: ['admin'] })
      const seen = []
      for (let i = 0; i < 11; i++) seen.push((await forgot(app, i % 2 === 0 ? 'alice' : 'mallory')).statusCode)
      t.same(seen, [...Array(10).fill(202), 429])
      const limited = {
        reset: await reset(app, 'A'.repeat(43)),
        verify: await verify(app, 'A'.repeat(43)),
        'verify/request': await post(app, '/auth/email/verify/request', {}, bearer(pair.accessToken)),
        change: await change(app, pair.accessToken, OLD_PASSWORD, NEW_PASSWORD),
        login: await loginRequest(app, 'alice', OLD_PASSWORD)
      }
      for (const [route, response] of Object.entries(limited)) t.equal(response.statusCode, 429, `${route} shares the bucket`)
      t.equal(app.calls.updatePasswordHash, 0)
      const refreshed = await refresh(app, pair.refreshToken)
      t.equal(refreshed.statusCode, 200, 'refresh is another class')
      t.equal((await me(app, refreshed.json().access_token)).statusCode, 200, 'and so is /me')
    })
  })
}
