import { Buffer } from 'node:buffer'
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
// Types from kysely (an ES module) as an ES module imports them, also in the CommonJS build's declarations.
import type { CompiledQuery, Kysely } from 'kysely' with { 'resolution-mode': 'import' }
import { fail, isObject } from '../../config/check.js'
import { EmailTakenError, InvalidRequestError, InvalidUsernameError, UsernameTakenError } from '../../errors.js'
import { checkNewUsername, foldLogin } from '../../users/login-name.js'
import type { FoundUser } from '../../types.js'
import type { StoredFactors } from '../../config/options.js'
import { kyselyFactors } from './factors.js'
import type {
  FoundPasskey, NewIdentity, NewUser, PasskeyUse, StoredPasskey, UserIdentity
} from '../../config/options.js'
import { kyselyIdentities } from './identities.js'
import { kyselyPasskeys } from './passkeys.js'
import { checkIdentifier, LIMITS, MAX_JSON_BYTES, resolveTables } from './schema.js'
import { fits, lookupKey, storedText } from './text.js'

export interface KyselyUsersOptions {
  /** The prefix the migrations were given (`auth_` for `auth_users`). Default none. */
  tablePrefix?: string
  /** The roles of a user that `create` makes (POST /register). Default none: `[]`. */
  defaultRoles?: readonly string[]
  /**
   * Profile fields kept in columns of their own, which your migration adds to the users table: field -> column,
   * as `{ displayName: 'display_name' }`. Each holds a string, a number or null. Every other profile field goes to
   * the JSON `profile` column.
   */
  columns?: Record<string, string>
}

/** The users that kyselyUsers returns: these fields, then the profile fields (which never replace one of them). */
export interface KyselyUser {
  /** A UUID, made by `create`. */
  id: string
  /** As registered (logins match it folded: `foldLogin`). */
  username: string
  roles: string[]
  email: string | null
  emailVerified: boolean
  [profile: string]: unknown
}

/**
 * The users adapter over Kysely: every callback of the `users` option, each async. Users are typed as `request.user`
 * is (your `JwtAuthTypes` augmentation); what they hold is a KyselyUser.
 */
export interface KyselyUsers {
  findById (id: string): Promise<FoundUser | null>
  findByLogin (login: string): Promise<(FoundUser & { passwordHash: string }) | null>
  create (input: NewUser): Promise<FoundUser>
  updatePasswordHash (id: string, passwordHash: string, context?: { previous: string }): Promise<void>
  markEmailVerified (id: string): Promise<void>
  findFactors (id: string): Promise<StoredFactors | null>
  enableTotp (id: string, factor: { totp: string, recoveryCodes: string[] }): Promise<boolean>
  updateTotp (id: string, totp: string, context: { previous: string }): Promise<void>
  disableTotp (id: string): Promise<void>
  replaceRecoveryCodes (id: string, recoveryCodes: string[]): Promise<void>
  useRecoveryCode (id: string, recoveryCode: string): Promise<boolean>
  findByEmail (email: string): Promise<FoundUser | null>
  findByIdentity (provider: string, subject: string): Promise<FoundUser | null>
  linkIdentity (id: string, identity: NewIdentity): Promise<boolean>
  listIdentities (id: string): Promise<UserIdentity[]>
  unlinkIdentity (id: string, provider: string): Promise<boolean>
  passkeyUserHandle (id: string, candidate: string): Promise<string | null>
  listPasskeys (id: string): Promise<StoredPasskey[]>
  findPasskey (credentialId: string): Promise<FoundPasskey | null>
  addPasskey (id: string, passkey: StoredPasskey): Promise<boolean>
  updatePasskey (credentialId: string, use: PasskeyUse, context: { previousCounter: number }): Promise<boolean>
  removePasskey (id: string, credentialId: string): Promise<boolean>
}

// Fields of a user that are never profile: what the adapter itself sets, and the credentials.
const NOT_PROFILE = new Set(['id', 'username', 'passwordHash', 'roles', 'email', 'emailVerified'])

// Errors of each database for a value its column cannot hold (a mapped column shorter than the value, a string
// in a number column): the client's input, so a 400, never a 500. PostgreSQL SQLSTATEs, MySQL errnos.
const DATA_ERRORS = new Set<unknown>(['22001', '22003', '22P02', '22021', '22P05', 1264, 1366, 1406])
// A unique index or primary key refused the row: PostgreSQL, MySQL/MariaDB, node:sqlite (SQLITE_CONSTRAINT_UNIQUE and
// _PRIMARYKEY, also by name, as other SQLite drivers report them).
const UNIQUE_VIOLATIONS = new Set<unknown>([
  '23505', 1062, 2067, 1555, 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY'
])

const codesOf = (error: unknown): unknown[] => {
  const { code, errno, errcode } = Object(error) as Record<string, unknown>
  return [code, errno, errcode]
}
const isUniqueViolation = (error: unknown): boolean => codesOf(error).some((code) => UNIQUE_VIOLATIONS.has(code))

/** The normalized form an address is unique under: case and Unicode composition do not make another address. */
const normalizeEmail = (email: string): string => email.normalize('NFC').toLowerCase()

function resolveOptions (options: KyselyUsersOptions) {
  const names = resolveTables(options, 'kyselyUsers', ['defaultRoles', 'columns'])
  const { defaultRoles = [], columns = {} } = options
  if (!Array.isArray(defaultRoles) || !defaultRoles.every((role) => typeof role === 'string')) {
    fail('kyselyUsers: defaultRoles must be an array of strings')
  }
  if (!isObject(columns)) fail('kyselyUsers: columns must map profile fields to column names')
  for (const [field, column] of Object.entries(columns)) {
    if (NOT_PROFILE.has(field)) fail(`kyselyUsers: columns.${field}: ${field} is not a profile field`)
    checkIdentifier(column, `kyselyUsers: columns.${field}`)
  }
  return { names, roles: JSON.stringify(defaultRoles), columns: Object.entries(columns) }
}

/**
 * The `users` option over a Kysely instance your app owns, on the tables of `kyselyMigrations` (run them first:
 * `migrateToLatest(db)`). Logins match the folded name (`foldLogin`), which a unique index keeps unique; email
 * addresses are unique once normalized. Values a column cannot hold are refused with a 400 before any query, and
 * lookups of them find nothing; every value travels as a bound parameter.
 */
export function kyselyUsers (app: Kysely<any>, options: KyselyUsersOptions = {}): KyselyUsers {
  const { names, roles: defaultRoles, columns } = resolveOptions(options)
  // The app's plugins (CamelCasePlugin, say) would rename the columns this adapter reads.
  const db = app.withoutPlugins()
  const table = names.users
  const mapped = new Set(columns.map(([field]) => field))
  const selection = [
    'id', 'username', 'email', 'email_verified', 'roles', 'profile', ...columns.map(([, column]) => column)
  ]
  // The two lookups of every request and login, compiled once: each call only binds its key.
  const byId = db.selectFrom(table).select(selection).where('id', '=', '').compile()
  const byLogin = db.selectFrom(table).select([...selection, 'password_hash'])
    .where('username_folded', '=', '').compile()
  const byEmail = db.selectFrom(table).select(selection).where('email_normalized', '=', '').compile()
  const identities = kyselyIdentities(db, names, isUniqueViolation)
  const lookup = async (query: CompiledQuery, key: string) =>
    (await db.executeQuery<Record<string, unknown>>({ ...query, parameters: [key] })).rows[0]

  function toUser (row: Record<string, unknown>): KyselyUser {
    // Spread, not assigned: a "__proto__" field of the JSON stays a field.
    return {
      ...JSON.parse(row.profile as string) as Record<string, unknown>,
      ...Object.fromEntries(columns.map(([field, column]) => [field, row[column]])),
      id: row.id as string,
      username: row.username as string,
      roles: JSON.parse(row.roles as string) as string[],
      email: row.email as string | null,
      emailVerified: Number(row.email_verified) === 1
    }
  }

  /** Which unique index refused the row, told by the row that now holds the value. */
  async function takenError (folded: string, emailKey: string | null, error: unknown): Promise<unknown> {
    const holder = (column: string, value: string) =>
      db.selectFrom(table).select('id').where(column, '=', value).executeTakeFirst()
    if (await holder('username_folded', folded) !== undefined) return new UsernameTakenError({ cause: error })
    if (emailKey !== null && await holder('email_normalized', emailKey) !== undefined) {
      return new EmailTakenError({ cause: error })
    }
    return error
  }

  function profileOf (input: Record<string, unknown>) {
    const json: Record<string, unknown> = {}
    const own: Record<string, unknown> = {}
    for (const [field, value] of Object.entries(input)) {
      if (NOT_PROFILE.has(field)) continue
      if (!mapped.has(field)) json[field] = value
      else if (value === undefined || value === null || typeof value === 'number') own[field] = value ?? null
      else if (typeof value === 'string') own[field] = storedText(value, Infinity, field)
      else throw new InvalidRequestError(`${field} must be a string or a number`)
    }
    const text = JSON.stringify(json)
    if (Buffer.byteLength(text) > MAX_JSON_BYTES) {
      throw new InvalidRequestError(`The profile fields must take at most ${MAX_JSON_BYTES} bytes together`)
    }
    return { text, own }
  }

  function emailOf (email: unknown): { email: string | null, key: string | null } {
    if (email === undefined || email === null) return { email: null, key: null }
    if (typeof email !== 'string') throw new InvalidRequestError('email must be a string')
    storedText(email, LIMITS.email, 'email')
    return { email, key: storedText(normalizeEmail(email), LIMITS.email, 'email') }
  }

  async function findById (id: string): Promise<FoundUser | null> {
    const key = lookupKey(id, LIMITS.id)
    if (key === undefined) return null
    const row = await lookup(byId, key)
    return row === undefined ? null : toUser(row) as FoundUser
  }

  return {
    findById,

    async findByLogin (login) {
      const key = typeof login === 'string' ? lookupKey(foldLogin(login), LIMITS.folded) : undefined
      if (key === undefined) return null
      const row = await lookup(byLogin, key)
      if (row === undefined) return null
      const user = toUser(row)
      // A user without a password (a later sign-in method) has no hash: no password logs in as them.
      return (row.password_hash === null ? user : { ...user, passwordHash: row.password_hash }) as unknown as
        FoundUser & { passwordHash: string }
    },

    async create (input) {
      const { username, passwordHash = null } = input
      if (typeof username !== 'string' || (passwordHash !== null && typeof passwordHash !== 'string')) {
        throw new TypeError('kyselyUsers: create needs a username and, unless the user has no password, a ' +
          'passwordHash (strings)')
      }
      // What POST /register refuses, refused here too (NUL and lone surrogates among them), then the lengths.
      checkNewUsername(username)
      storedText(username, LIMITS.username, 'username')
      const folded = foldLogin(username)
      if (!fits(folded, LIMITS.folded)) throw new InvalidUsernameError('The username is too long once folded')
      const email = emailOf(input.email)
      const profile = profileOf(input)
      const now = new Date().toISOString()
      const id = randomUUID()
      const row = {
        ...Object.fromEntries(columns.map(([field, column]) => [column, profile.own[field] ?? null])),
        id,
        username,
        username_folded: folded,
        email: email.email,
        email_normalized: email.key,
        password_hash: passwordHash,
        roles: defaultRoles,
        profile: profile.text,
        created_at: now,
        updated_at: now
      }
      try {
        await db.insertInto(table).values(row).execute()
      } catch (error) {
        const codes = codesOf(error)
        if (codes.some((code) => DATA_ERRORS.has(code))) {
          throw new InvalidRequestError('A profile field does not fit its column', { cause: error })
        }
        throw isUniqueViolation(error) ? await takenError(folded, email.key, error) : error
      }
      return toUser({ ...row, email_verified: 0 }) as FoundUser
    },

    async updatePasswordHash (id, passwordHash, context) {
      const key = lookupKey(id, LIMITS.id)
      if (key === undefined) return
      let update = db.updateTable(table)
        .set({ password_hash: passwordHash, updated_at: new Date().toISOString() })
        .where('id', '=', key)
      // Conditional: a hash changed meanwhile (a reset during a login's rehash) is never overwritten.
      if (context !== undefined) update = update.where('password_hash', '=', context.previous)
      await update.execute()
    },

    async markEmailVerified (id) {
      const key = lookupKey(id, LIMITS.id)
      if (key === undefined) return
      await db.updateTable(table)
        .set({ email_verified: sql`true`, updated_at: new Date().toISOString() })
        .where('id', '=', key).execute()
    },

    ...kyselyFactors(db, names, isUniqueViolation),

    async findByEmail (email) {
      const key = typeof email === 'string' ? lookupKey(normalizeEmail(email), LIMITS.email) : undefined
      if (key === undefined) return null
      const row = await lookup(byEmail, key)
      return row === undefined ? null : toUser(row) as FoundUser
    },

    async findByIdentity (provider, subject) {
      const id = await identities.userIdOf(provider, subject)
      return id === undefined ? null : await findById(id)
    },

    linkIdentity: identities.linkIdentity,
    listIdentities: identities.listIdentities,
    unlinkIdentity: identities.unlinkIdentity,
    ...kyselyPasskeys(db, names, isUniqueViolation)
  }
}
