import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'

/**
 * The adapter under test, each callback made async (a synchronous one that throws rejects): those every check
 * uses, and those some checks use when present.
 */
export interface UsersSubject {
  findById (id: string): Promise<unknown>
  findByLogin (login: string): Promise<unknown>
  create (input: { username: string, passwordHash?: string, [profile: string]: unknown }): Promise<unknown>
  updatePasswordHash?: (id: string, passwordHash: string, context?: { previous: string }) => Promise<void>
  markEmailVerified?: (id: string) => Promise<void>
  findByEmail?: (email: string) => Promise<unknown>
  /** The MFA group, when the adapter has it (all of it). */
  mfa?: MfaSubject
  /** The identities group, when the adapter has it (all of it). */
  identities?: IdentitiesSubject
  /** The passkeys group, when the adapter has it (all of it). */
  passkeys?: PasskeysSubject
}

/** The `users` MFA group, each callback made async. */
export interface MfaSubject {
  findFactors (id: string): Promise<unknown>
  enableTotp (id: string, factor: { totp: string, recoveryCodes: string[] }): Promise<boolean>
  updateTotp (id: string, totp: string, context: { previous: string }): Promise<void>
  disableTotp (id: string): Promise<void>
  replaceRecoveryCodes (id: string, recoveryCodes: string[]): Promise<void>
  useRecoveryCode (id: string, recoveryCode: string): Promise<boolean>
}

/** The `users` identities group, each callback made async. */
export interface IdentitiesSubject {
  findByIdentity (provider: string, subject: string): Promise<unknown>
  linkIdentity (
    id: string, identity: { provider: string, subject: string, email: string | null, emailVerified: boolean }
  ): Promise<boolean>
  listIdentities (id: string): Promise<unknown>
  unlinkIdentity (id: string, provider: string): Promise<boolean>
}

/** A passkey as the `users` passkeys group stores it. */
interface PasskeyRecord {
  id: string
  publicKey: string
  counter: number
  transports: string[]
  backedUp: boolean
  name: string
  createdAt: string
  lastUsedAt: string | null
}

/** The `users` passkeys group, each callback made async. */
export interface PasskeysSubject {
  passkeyUserHandle (id: string, candidate: string): Promise<string | null | undefined>
  listPasskeys (id: string): Promise<PasskeyRecord[]>
  findPasskey (
    credentialId: string
  ): Promise<(PasskeyRecord & { userId: string, userHandle: string }) | null | undefined>
  addPasskey (id: string, passkey: PasskeyRecord): Promise<boolean>
  updatePasskey (credentialId: string, use: { counter: number, backedUp: boolean, lastUsedAt: string },
    context: { previousCounter: number }): Promise<boolean>
  removePasskey (id: string, credentialId: string): Promise<boolean>
}

/** A user as the checks read one: what the plugin reads of it. */
export interface SeenUser {
  id?: unknown
  username?: unknown
  roles?: unknown
  passwordHash?: unknown
  email?: unknown
  emailVerified?: unknown
  [field: string]: unknown
}

/** What each check is given: a fresh adapter, fresh names, and what the adapter promises. */
export interface UsersCheckContext {
  users: UsersSubject
  /** A login name no other check (nor another run on the same table) uses: ASCII, lower case. */
  name (what: string): string
  /** A fresh email address, `<name>@example.test`. */
  email (what: string): string
  /** Concurrent calls in the atomicity checks. */
  concurrency: number
  /** The profile fields the adapter keeps (round trips checked on each). */
  profile: readonly string[]
  /** The adapter keeps email addresses unique, refusing a taken one with FST_JWT_AUTH_EMAIL_TAKEN. */
  uniqueEmail: boolean
}

export interface UsersCheck {
  name: string
  run (context: UsersCheckContext): Promise<void>
}

export const HASH = '$argon2id$v=19$m=19456,t=2,p=1$conformance$hash'

/** A new name part: the run's names never collide, so a table shared by runs is fine. */
export const fresh = (): string => randomBytes(6).toString('hex')

/** Settles every call, then gives the values and the errors apart. */
export async function settle<T> (calls: Array<Promise<T>>): Promise<{ values: T[], errors: unknown[] }> {
  const outcomes = await Promise.allSettled(calls)
  return {
    values: outcomes.flatMap((outcome) => outcome.status === 'fulfilled' ? [outcome.value] : []),
    errors: outcomes.flatMap((outcome) => outcome.status === 'rejected' ? [outcome.reason as unknown] : [])
  }
}

export const codeOf = (error: unknown): unknown => (error as { code?: unknown } | null)?.code

export const statusOf = (error: unknown): unknown => (error as { statusCode?: unknown } | null)?.statusCode

/** Runs `call`, which must be refused with `code`. */
export async function refused (call: Promise<unknown>, code: string, what: string): Promise<void> {
  const { errors } = await settle([call])
  assert.equal(errors.length, 1, `${what}: refused`)
  assert.equal(codeOf(errors[0]), code, `${what}: refused with ${code} (got ${String(errors[0])})`)
}

/** Creates a user that must be created. */
export async function created (users: UsersSubject, input: Parameters<UsersSubject['create']>[0]): Promise<SeenUser> {
  const user = await users.create(input) as SeenUser
  assert.ok(user !== null && typeof user === 'object', 'create resolves to the user')
  assert.ok((typeof user.id === 'string' || typeof user.id === 'number') && String(user.id) !== '',
    'the user has an id, a string or a number (a token\'s sub is String(id))')
  return user
}

/** Resolves to what the lookup resolves to: null for undefined (the plugin treats them alike). */
export async function found (lookup: Promise<unknown>): Promise<SeenUser | null> {
  return (await lookup ?? null) as SeenUser | null
}
