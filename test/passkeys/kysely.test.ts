// Passkeys over kyselyUsers (SQLite), beside sign-in with a provider: a passwordless user's passkeys and identities
// are each other's other way in (DELETE /passkeys/:id and DELETE /identities/:provider), the counter is stored.
import Fastify from 'fastify'
import { Kysely } from 'kysely'
import t from 'tap'
import jwtAuth, { type AuthEvent, type JwtAuthOptions } from '../../lib/index.js'
import { kyselyUsers, migrateToLatest, sqliteDialect } from '../../lib/kysely.js'
import { SECRET } from '../helpers/app.js'
import { claimsOf, creationOptions, ORIGIN, post, requestOptions, RP_ID } from '../helpers/passkey-app.js'
import { SoftAuthenticator } from '../helpers/webauthn.js'

t.test('a passwordless user keeps a passkey or an identity; logins move the stored counter', async (t) => {
  const db = new Kysely<any>({ dialect: sqliteDialect(':memory:') })
  t.teardown(() => db.destroy())
  await migrateToLatest(db)
  const users = kyselyUsers(db)
  const events: AuthEvent[] = []
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET,
    rateLimit: false,
    users,
    routes: { captcha: false },
    onEvent: (event) => { events.push(event) },
    oauth: {
      baseUrl: 'https://app.example.test',
      providers: { github: { clientId: 'id', clientSecret: 'secret' } },
      successRedirect: '/'
    },
    passkeys: { rpID: RP_ID, rpName: 'Example', origins: [ORIGIN] }
  } as JwtAuthOptions)
  t.teardown(() => app.close())
  const carol = await users.create({ username: 'carol', email: 'carol@example.test' }) as { id: string, roles: string[] }
  const pair = await app.jwtAuth.issue(carol, { amr: ['fed'] })
  const headers = { authorization: `Bearer ${pair.accessToken}` }
  const authenticator = new SoftAuthenticator({ rpID: RP_ID, origin: ORIGIN })
  const register = async () => {
    const reply = await post(app, '/passkeys/register/verify', { response: authenticator.register(await creationOptions(app, headers)) }, headers)
    t.equal(reply.statusCode, 201, reply.body)
    return reply.json().id as string
  }
  const options = await creationOptions(app, headers)
  t.equal(options.user.name, 'carol')
  const first = await register()
  await users.linkIdentity(String(carol.id), { provider: 'github', subject: '42', email: null, emailVerified: false })
  const remove = (url: string) => app.inject({ method: 'DELETE', url: `/auth${url}`, headers })
  t.equal((await remove(`/passkeys/${first}`)).statusCode, 204, 'her identity remains')
  const second = await register()
  t.equal((await remove('/identities/github')).statusCode, 204, 'her passkey remains')
  t.equal((await remove(`/passkeys/${second}`)).statusCode, 409, 'her last way to log in')

  for (const expected of [1, 2]) {
    const reply = await post(app, '/passkeys/login/verify', { response: authenticator.login(await requestOptions(app, 'carol')) })
    t.equal(reply.statusCode, 200, reply.body)
    t.equal(claimsOf(reply.json().access_token).sub, String(carol.id))
    t.match(await users.findPasskey(second), { counter: expected, lastUsedAt: String, userId: String(carol.id) })
  }
  t.match(events.map((event) => event.type), ['passkey.register', 'passkey.remove', 'passkey.register', 'oauth.unlink',
    'passkey.login.success', 'passkey.login.success'])
})
