import { checkKeys } from '../config/check.js'
import type { JwtAuthUsers, NewUser } from '../config/options.js'
import { emailChecks } from './users-checks/email.js'
import { factorChecks } from './users-checks/factors.js'
import { hostileChecks } from './users-checks/hostile.js'
import { identityChecks } from './users-checks/identities.js'
import { lookupChecks } from './users-checks/lookups.js'
import { nameChecks } from './users-checks/names.js'
import { passkeyChecks } from './users-checks/passkeys.js'
import { passwordChecks } from './users-checks/passwords.js'
import {
  fresh, type IdentitiesSubject, type MfaSubject, type PasskeysSubject, type UsersCheck, type UsersSubject
} from './users-checks/support.js'
import { MFA_USER_CALLBACKS } from '../config/mfa.js'
import { IDENTITY_USER_CALLBACKS } from '../config/identities.js'
import { PASSKEY_USER_CALLBACKS } from '../config/passkeys.js'

export interface UsersConformanceOptions<Users extends JwtAuthUsers = JwtAuthUsers> {
  /**
   * Registers one check, a function that throws (node:assert) when the adapter
   * fails it: node:test's `test`, tap's `t.test.bind(t)`, vitest's or mocha's `it`.
   */
  test: (name: string, fn: () => Promise<void>) => unknown
  /**
   * A users adapter for each check (`findById`, `findByLogin` and `create` at least), over tables that may hold
   * the users of earlier checks and runs: every check uses names of its own.
   */
  createUsers: () => Users | Promise<Users>
  /** Closes an adapter after its check; default nothing. */
  closeUsers?: (users: Users) => unknown
  /** The profile fields your adapter keeps, checked to round-trip values of every shape. Default none. */
  profile?: readonly string[]
  /** True when `create` keeps `email` unique and refuses a taken one with FST_JWT_AUTH_EMAIL_TAKEN. Default false. */
  uniqueEmail?: boolean
  /** Calls made at once in the atomicity checks; default 8. */
  concurrency?: number
}

const KNOWN_OPTIONS = ['test', 'createUsers', 'closeUsers', 'profile', 'uniqueEmail', 'concurrency']

function fail (message: string): never {
  throw new TypeError(`usersConformance: ${message}`)
}

function checkOptions (options: UsersConformanceOptions): void {
  if (options === null || typeof options !== 'object') fail('options must be an object: { test, createUsers }')
  checkKeys(options, KNOWN_OPTIONS, '', fail)
  for (const name of ['test', 'createUsers'] as const) {
    if (typeof options[name] !== 'function') fail(`${name} must be a function`)
  }
  if (options.closeUsers !== undefined && typeof options.closeUsers !== 'function') {
    fail('closeUsers must be a function when given')
  }
  const { profile = [], uniqueEmail, concurrency } = options
  if (!Array.isArray(profile) || !profile.every((field) => typeof field === 'string')) {
    fail('profile must be an array of field names')
  }
  if (uniqueEmail !== undefined && typeof uniqueEmail !== 'boolean') fail('uniqueEmail must be a boolean')
  if (concurrency !== undefined && !(Number.isSafeInteger(concurrency) && concurrency >= 2)) {
    fail(`concurrency must be an integer of at least 2 (got ${String(concurrency)})`)
  }
}

function subjectOf (users: JwtAuthUsers): UsersSubject {
  const missing = (['findById', 'findByLogin', 'create'] as const).filter((name) => typeof users?.[name] !== 'function')
  if (missing.length > 0) fail(`createUsers must give an adapter with ${missing.join(', ')} (functions)`)
  const optional = (name: 'updatePasswordHash' | 'markEmailVerified' | 'findByEmail') => {
    if (users[name] === undefined) return undefined
    if (typeof users[name] !== 'function') fail(`${name} must be a function when given`)
    return async (...args: unknown[]) => await (users[name] as (...args: unknown[]) => unknown)(...args) as never
  }
  // Called as the plugin calls them, each made async: a synchronous callback that throws rejects.
  return {
    findById: async (id) => await users.findById!(id),
    findByLogin: async (login) => await users.findByLogin!(login),
    // Without passwordHash in the identities group's checks: what the oauth option asks of create (NewUser).
    create: async (input) => await (users.create as (input: NewUser) => unknown)(input),
    updatePasswordHash: optional('updatePasswordHash'),
    markEmailVerified: optional('markEmailVerified'),
    findByEmail: optional('findByEmail'),
    mfa: groupOf<MfaSubject>(users, MFA_USER_CALLBACKS, 'MFA'),
    identities: groupOf<IdentitiesSubject>(users, IDENTITY_USER_CALLBACKS, 'identities'),
    passkeys: groupOf<PasskeysSubject>(users, PASSKEY_USER_CALLBACKS, 'passkeys')
  }
}

/** A group of callbacks (MFA, identities), made async: all of it or none (the plugin's option needs all of it). */
function groupOf<Group> (
  users: JwtAuthUsers, names: ReadonlyArray<keyof JwtAuthUsers>, label: string
): Group | undefined {
  const given = names.filter((name) => users[name] !== undefined)
  if (given.length === 0) return undefined
  const missing = names.filter((name) => typeof users[name] !== 'function')
  if (missing.length > 0) {
    fail(`the ${label} group is all or none: ${given.join(', ')} given, ${missing.join(', ')} missing (functions)`)
  }
  const call = (name: keyof JwtAuthUsers) =>
    async (...args: unknown[]) => await (users[name] as (...args: unknown[]) => unknown)(...args)
  return Object.fromEntries(names.map((name) => [name, call(name)])) as Group
}

/** Runs one check on a fresh adapter, then closes it; a failing check's error wins over the close's. */
async function runCheck<Users extends JwtAuthUsers> (
  check: UsersCheck, options: UsersConformanceOptions<Users>
): Promise<void> {
  const users = await options.createUsers()
  const run = fresh()
  let count = 0
  const name = (what: string) => `${what}${run}${(count++).toString(36)}`
  let failure: { error: unknown } | undefined
  try {
    await check.run({
      users: subjectOf(users),
      name,
      email: (what) => `${name(what)}@example.test`,
      concurrency: options.concurrency ?? 8,
      profile: options.profile ?? [],
      uniqueEmail: options.uniqueEmail ?? false
    })
  } catch (error) {
    failure = { error }
  }
  try {
    await options.closeUsers?.(users)
  } catch (error) {
    failure ??= { error }
  }
  if (failure !== undefined) throw failure.error
}

/**
 * The users conformance suite: registers, through `test`, one check per behaviour of the `users` contract
 * (JwtAuthUsers) that the plugin relies on, each on an adapter from `createUsers`: lookups, the folded unique
 * username under concurrent creates, the conditional password update, email verification, unique addresses
 * (`uniqueEmail`), hostile strings in names and profile fields, the MFA group (second factors stored once,
 * recovery codes spent once, of concurrent calls too) and the identities group (users without a password, a
 * provider's sign-in linked to one user at most, of concurrent links too; `findByEmail`) and the passkeys group (one
 * handle per user, a credential stored once for one user, counters moved only from the value read). Checks of an
 * optional callback (updatePasswordHash, markEmailVerified, findByEmail) or group (MFA, identities, passkeys) pass
 * at once when the adapter lacks it. Resolves when every registered check has (for runners whose `test` returns a
 * promise: await it inside a parent test).
 */
export function usersConformance<Users extends JwtAuthUsers> (options: UsersConformanceOptions<Users>): Promise<void> {
  checkOptions(options as unknown as UsersConformanceOptions)
  const checks = [
    ...lookupChecks, ...nameChecks, ...passwordChecks, ...emailChecks, ...hostileChecks, ...factorChecks,
    ...identityChecks, ...passkeyChecks
  ]
  const registered = checks.map((check) => options.test(check.name, () => runCheck(check, options)))
  return Promise.all(registered).then(() => {})
}
