import Fastify, { type FastifyInstance } from 'fastify'
import jwtAuth, { type AuthEvent, type JwtAuthOptions } from '../../lib/index.js'
import { SECRET, type AnyStore } from './app.js'
import { MFA_KEY, mfaRecords, mfaUsers, type MfaUser } from './mfa-app.js'
import { memoryPasskeys, type PasskeyTables } from './passkey-users.js'
import { SoftAuthenticator } from './webauthn.js'

export const RP_ID = 'example.test'
export const ORIGIN = 'https://app.example.test'

export interface PasskeyApp extends FastifyInstance {
  events: AuthEvent[]
  records: MfaUser[]
  tables: PasskeyTables
}

export interface PasskeyAppOptions {
  store?: AnyStore
  passkeys?: Record<string, unknown>
  /** The mfa option on (with its users group). Default off. */
  mfa?: boolean
  options?: Record<string, unknown>
  records?: MfaUser[]
  users?: (users: Record<string, any>) => Record<string, unknown>
  after?: (app: FastifyInstance) => void
}

/** The plugin with its routes and the passkeys option (alice, bob and carol); events into `app.events`. */
export async function buildPasskeyApp (
  t: { teardown: (fn: () => unknown) => void }, given: PasskeyAppOptions = {}
): Promise<PasskeyApp> {
  const records = given.records ?? await mfaRecords()
  const { users } = mfaUsers(records)
  const { tables, ...group } = memoryPasskeys((id) => records.some((record) => record.id === id))
  const all = { ...users, ...group }
  const app = Fastify() as unknown as PasskeyApp
  app.events = []
  app.records = records
  app.tables = tables
  await app.register(jwtAuth, {
    secret: SECRET,
    ...(given.store === undefined ? {} : { store: given.store }),
    rateLimit: false,
    onEvent: (event: AuthEvent) => { app.events.push(event) },
    users: given.users?.(all) ?? all,
    routes: { captcha: false },
    passkeys: { rpID: RP_ID, rpName: 'Example', origins: [ORIGIN], ...given.passkeys },
    ...(given.mfa === true ? { mfa: { encryptionKey: MFA_KEY } } : {}),
    ...given.options
  } as JwtAuthOptions)
  given.after?.(app)
  await app.ready()
  t.teardown(() => app.close())
  return app
}

/** A bearer header of the user, as after a password login. */
export async function bearerOf (app: FastifyInstance, id: string): Promise<{ authorization: string }> {
  const pair = await app.jwtAuth.issue({ id, roles: ['user'] }, { amr: ['pwd'] })
  return { authorization: `Bearer ${pair.accessToken}` }
}

export const post = (app: FastifyInstance, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: `/auth${url}`, ...(payload === undefined ? {} : { payload: payload as object }), headers })

/** The creation options of the user (as the logged-in user). */
export async function creationOptions (app: FastifyInstance, headers: { authorization: string }) {
  const reply = await post(app, '/passkeys/register/options', undefined, headers)
  if (reply.statusCode !== 200) throw new Error(`register/options: ${reply.statusCode} ${reply.body}`)
  return reply.json() as { challenge: string, user: { id: string, name: string }, excludeCredentials: Array<{ id: string }> }
}

/** Registers a passkey of the user on a new (or the given) authenticator. */
export async function registerPasskey (
  app: FastifyInstance, id: string, authenticator = new SoftAuthenticator({ rpID: RP_ID, origin: ORIGIN })
) {
  const headers = await bearerOf(app, id)
  const response = authenticator.register(await creationOptions(app, headers))
  const reply = await post(app, '/passkeys/register/verify', { response }, headers)
  if (reply.statusCode !== 201) throw new Error(`register/verify: ${reply.statusCode} ${reply.body}`)
  return { authenticator, headers, passkey: reply.json() as { id: string, name: string, createdAt: string } }
}

/** The request options of a login (of `login`, when given). */
export async function requestOptions (app: FastifyInstance, login?: string) {
  const reply = await post(app, '/passkeys/login/options', login === undefined ? {} : { login })
  if (reply.statusCode !== 200) throw new Error(`login/options: ${reply.statusCode} ${reply.body}`)
  return reply.json() as { challenge: string, allowCredentials?: Array<{ id: string }>, userVerification: string }
}

/** Decodes a JWT's payload, unverified (the test reads what the plugin issued). */
export const claimsOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>
