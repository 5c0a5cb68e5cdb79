import { createHash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Emit } from '../audit/events.js'
import type { ResolvedMfa } from '../config/mfa.js'
import type { JwtAuthUsers, StoredFactors } from '../config/options.js'
import {
  InvalidMfaCodeError, MfaAlreadyEnabledError, MfaNotEnabledError, MfaSetupNotFoundError, UserNotFoundError
} from '../errors.js'
import type { ResolvedStore } from '../stores/resolve.js'
import type { LoginSessions } from '../tokens/sessions.js'
import type { AuthUser, SessionMetadata } from '../types.js'
import { withoutSecrets } from '../users/without-secrets.js'
import { createAttempts } from './attempt.js'
import type { Assertions } from './passkey-assertion.js'
import { createRecoveryCodes } from './recovery-codes.js'
import { createSealing } from './sealing.js'
import { createSecondStep, type FactorLockout } from './second-step.js'
import { createTotp, type TotpEnrolment } from './totp.js'

export interface MfaDeps {
  mfa: ResolvedMfa
  users: JwtAuthUsers
  store: ResolvedStore
  emit: Emit
  log: FastifyBaseLogger
  /** For the login's second step: the sessions it starts, the epochs that end its attempts, its lockout. */
  sessions: LoginSessions
  epochOf: (userId: string) => Promise<string | undefined>
  lockout: FactorLockout
  /** Passkey assertions (a passkey as the second step's proof); null without the passkeys option. */
  assertions: Assertions | null
}

/** Which session a setup belongs to (its refresh family), and the user when the caller has it at hand. */
export interface SetupContext {
  familyId?: string | undefined
  user?: unknown
  metadata?: SessionMetadata
}

/** A setup waiting for its first code: kept in the store's challenges, the secret sealed as in the users table. */
interface PendingSetup { totp: string, expiresAt: number }

// A setup is confirmed within minutes or started again.
export const SETUP_TTL = 600

const digest = (text: string): string => createHash('sha256').update(text).digest('base64url')

function parsePending (stored: string | null): PendingSetup | null {
  const pending = JSON.parse(stored ?? 'null') as Partial<PendingSetup> | null
  return typeof pending?.totp === 'string' && typeof pending.expiresAt === 'number' ? pending as PendingSetup : null
}

/** The name an authenticator app shows for the account. */
function labelOf (user: unknown, sub: string): string {
  const { username, email } = user as { username?: unknown, email?: unknown }
  if (typeof username === 'string' && username !== '') return username
  return typeof email === 'string' && email !== '' ? email : sub
}

/**
 * Second factors of an account: TOTP enrolment (setup, then confirmation with a first code, which turns it on
 * with its recovery codes), turning it off, new recovery codes; the login's second step (second-step.ts).
 */
export function createMfa (deps: MfaDeps) {
  const { mfa, users, store, emit } = deps
  const sealing = createSealing(mfa.keys)
  const totp = createTotp(mfa.totp, store)
  const recoveryCodes = createRecoveryCodes(sealing, mfa.recoveryCodes.count)
  const setupKey = (sub: string, familyId: string | undefined): string =>
    `mfa-setup:${digest(`${sub}\0${familyId ?? ''}`)}`

  /** The user's factors as stored; none for an unknown user (null or undefined from the adapter). */
  async function factorsOf (sub: string): Promise<StoredFactors> {
    const factors = await users.findFactors!(sub)
    return { totp: factors?.totp ?? null, recoveryCodes: factors?.recoveryCodes ?? [] }
  }

  async function findUser (sub: string, given: unknown): Promise<unknown> {
    const user = given ?? await users.findById!(sub)
    if (user == null) throw new UserNotFoundError()
    return user
  }

  /** New recovery codes for the user: shown once, stored hashed. */
  const newCodes = (sub: string) => recoveryCodes.enrol(sub)
  const secondStep = createSecondStep({
    ...deps, mfa: { sealing, totp, recoveryCodes, factorsOf }, attempts: createAttempts(store)
  })

  return {
    /** The login's second step (after the right password). */
    secondStep,

    /**
     * mfa.required, for a user without a confirmed factor (asked after the password, before tokens): true when the
     * session must be kept to the setup routes until one is confirmed.
     */
    async needsSetup (user: object): Promise<boolean> {
      return mfa.required !== null && await mfa.required(withoutSecrets(user) as AuthUser) === true
    },

    /**
     * Starts (or starts again) a TOTP setup of the user's session: a new secret, not in use until a code of it
     * confirms it. A setup of another session is another setup; a user whose TOTP is on gets a 409.
     */
    async setupTotp (userId: string | number, context: SetupContext = {}): Promise<TotpEnrolment> {
      const sub = String(userId)
      if ((await factorsOf(sub)).totp !== null) throw new MfaAlreadyEnabledError()
      const enrolment = await totp.enrol(labelOf(await findUser(sub, context.user), sub))
      const pending: PendingSetup = {
        totp: sealing.seal(sub, enrolment.secret), expiresAt: Date.now() + SETUP_TTL * 1000
      }
      // Over the session's earlier setup, if any: a second setup replaces an unconfirmed one.
      await store.challenges.put(setupKey(sub, context.familyId), JSON.stringify(pending), SETUP_TTL)
      return enrolment
    },

    /** Turns TOTP on with a first code of the session's setup; resolves to the recovery codes, shown this once. */
    async confirmTotp (userId: string | number, code: string, context: SetupContext = {}) {
      const sub = String(userId)
      const key = setupKey(sub, context.familyId)
      const pending = parsePending(await store.challenges.take(key))
      if (pending === null) throw new MfaSetupNotFoundError()
      const secret = sealing.open(sub, pending.totp)
      if (secret === null || typeof code !== 'string' || !await totp.verify(sub, secret.plaintext, code)) {
        // A wrong code leaves the setup to try again, for the rest of its life.
        const seconds = Math.ceil((pending.expiresAt - Date.now()) / 1000)
        await store.challenges.put(key, JSON.stringify(pending), Math.max(1, seconds))
        throw new InvalidMfaCodeError()
      }
      const codes = newCodes(sub)
      const factor = { totp: sealing.seal(sub, secret.plaintext), recoveryCodes: codes.hashes }
      if (!await users.enableTotp!(sub, factor)) throw new MfaAlreadyEnabledError()
      emit('mfa.enable', { userId: sub, ...context.metadata })
      return { recoveryCodes: codes.codes }
    },

    /** Turns TOTP off and forgets the recovery codes. */
    async disable (userId: string | number, metadata?: SessionMetadata): Promise<void> {
      const sub = String(userId)
      if ((await factorsOf(sub)).totp === null) throw new MfaNotEnabledError()
      await users.disableTotp!(sub)
      emit('mfa.disable', { userId: sub, ...metadata })
    },

    /** New recovery codes in place of the old ones (used or not); shown this once. */
    async regenerateRecoveryCodes (userId: string | number, metadata?: SessionMetadata) {
      const sub = String(userId)
      if ((await factorsOf(sub)).totp === null) throw new MfaNotEnabledError()
      const codes = newCodes(sub)
      await users.replaceRecoveryCodes!(sub, codes.hashes)
      emit('mfa.recovery_codes.regenerate', { userId: sub, ...metadata })
      return { recoveryCodes: codes.codes }
    }
  }
}

export type Mfa = ReturnType<typeof createMfa>
