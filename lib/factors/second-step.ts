import type { FastifyBaseLogger } from 'fastify'
import type { Emit } from '../audit/events.js'
import type { JwtAuthUsers, StoredFactors } from '../config/options.js'
import { AccountLockedError, InvalidMfaCodeError, MfaTokenInvalidError } from '../errors.js'
import { nowInSeconds, type CodeVerifier } from '../tokens/authentication.js'
import { familyOf } from '../tokens/pairs.js'
import type { LoginExtras, LoginSessions } from '../tokens/sessions.js'
import type { IssuableUser, MfaChallenge, SessionMetadata, TokenPair } from '../types.js'
import type { Attempts, FirstStep } from './attempt.js'
import type { RecoveryCodes } from './recovery-codes.js'
import type { Sealing } from './sealing.js'
import type { Totp } from './totp.js'

/** The second factor of a login: a TOTP code, or one of the recovery codes. */
export type MfaProof = { code: string } | { recoveryCode: string }

/** The per-account lockout of the second factor (routes/lockout.ts, under a namespace of its own). */
export interface FactorLockout {
  begin (subject: { userId: string }): Promise<{ lastChance: boolean }>
  failed (subject: { userId: string }): Promise<void>
  succeeded (subject: { userId: string }): Promise<void>
}

/** The factors themselves, and the user's as stored. */
export interface Factors {
  sealing: Sealing
  totp: Totp
  recoveryCodes: RecoveryCodes
  factorsOf (sub: string): Promise<StoredFactors>
}

export interface SecondStepDeps {
  mfa: Factors
  attempts: Attempts
  users: JwtAuthUsers
  lockout: FactorLockout
  sessions: LoginSessions
  epochOf: (userId: string) => Promise<string | undefined>
  emit: Emit
  log: FastifyBaseLogger
}

/**
 * RFC 8176 methods of a login with a second factor: the password, and a one-time password. A recovery code is one
 * too (RFC 4949's "one-time password": a secret good for one use), of the same strength as a TOTP code against a
 * guess; the `mfa.recovery_code.used` event tells them apart where that matters.
 */
const SECOND_FACTOR_AMR = ['pwd', 'otp'] as const
// After a first step other than a password (a provider's sign-in): its methods, then the one-time password.
const afterFirst = (first: FirstStep | undefined): readonly string[] =>
  first === undefined ? SECOND_FACTOR_AMR : [...first.amr, 'otp']

/**
 * The login's second step: after the right password, a user with a confirmed factor gets an `mfa_token` (an attempt
 * in the store's challenges) instead of tokens; `verify` spends it with a code, counting wrong ones toward a
 * lockout of its own, and issues the pair, its proofs the password and the code.
 */
export function createSecondStep (deps: SecondStepDeps) {
  const { mfa, attempts, users, lockout, sessions, emit, log } = deps

  /** A secret sealed under an older key moves to the first one; a failure to store it fails nothing. */
  async function reseal (sub: string, sealed: string, plaintext: string): Promise<void> {
    try {
      await users.updateTotp!(sub, mfa.sealing.seal(sub, plaintext), { previous: sealed })
    } catch (error) {
      log.warn({ err: error, userId: sub }, 'fastify-jwt-auth: could not store the TOTP secret under the new key')
    }
  }

  /** Which factor the proof is, when it is right (and spent: a code or recovery code works once); else null. */
  async function check (sub: string, factors: StoredFactors & { totp: string }, proof: MfaProof) {
    if ('code' in proof) {
      const opened = mfa.sealing.open(sub, factors.totp)
      if (opened === null) {
        log.error({ userId: sub }, 'fastify-jwt-auth: a TOTP secret does not open with mfa.encryptionKey (its key ' +
          'is no longer listed?): the user can log in with a recovery code only')
        return null
      }
      if (!await mfa.totp.verify(sub, opened.plaintext, proof.code)) return null
      if (!opened.current) await reseal(sub, factors.totp, opened.plaintext)
      return 'totp'
    }
    const hash = mfa.recoveryCodes.find(sub, proof.recoveryCode, factors.recoveryCodes)
    return hash !== undefined && await users.useRecoveryCode!(sub, hash) ? 'recovery_code' : null
  }

  /**
   * Checks a proof under the account's MFA lockout: the factor it is, or a 401 (a wrong proof, counted: the last
   * allowed one locks; else `onWrong` runs) or a 429 (locked). Emits the mfa events.
   */
  async function prove (sub: string, proof: MfaProof, metadata: SessionMetadata, onWrong: () => Promise<void>) {
    const emitFor = (type: 'mfa.success' | 'mfa.failure' | 'mfa.recovery_code.used', reason?: string) =>
      emit(type, { userId: sub, reason, ...metadata })
    let lastChance: boolean
    try {
      ({ lastChance } = await lockout.begin({ userId: sub }))
    } catch (error) {
      if (error instanceof AccountLockedError) emitFor('mfa.failure', 'locked')
      throw error
    }
    const factors = await mfa.factorsOf(sub)
    const method = factors.totp === null ? null : await check(sub, factors as StoredFactors & { totp: string }, proof)
    if (method === null) {
      emitFor('mfa.failure', 'code' in proof ? 'wrong_code' : 'wrong_recovery_code')
      if (lastChance) {
        await lockout.failed({ userId: sub })
        emit('lockout', { userId: sub, ...metadata })
      } else {
        await onWrong()
      }
      throw new InvalidMfaCodeError()
    }
    await lockout.succeeded({ userId: sub })
    emitFor('mfa.success')
    if (method === 'recovery_code') emitFor('mfa.recovery_code.used')
    return method
  }

  return {
    /**
     * After the right password (or `first`, another first step: a provider's sign-in): the challenge for a user with
     * a confirmed factor, null for one without.
     */
    async begin (user: IssuableUser, metadata: SessionMetadata, first?: FirstStep): Promise<MfaChallenge | null> {
      const sub = String(user.id)
      const factors = await mfa.factorsOf(sub)
      if (factors.totp === null) return null
      const mfaToken = await attempts.begin(sub, await deps.epochOf(sub) ?? null, metadata, first)
      return { mfaToken, methods: factors.recoveryCodes.length > 0 ? ['totp', 'recovery_code'] : ['totp'] }
    },

    /** Spends the mfa_token with a code: the pair of a new session. */
    async verify (mfaToken: unknown, proof: MfaProof, metadata: SessionMetadata, extras: LoginExtras = {}) {
      const taken = await attempts.take(mfaToken)
      if (taken === null) throw new MfaTokenInvalidError()
      const { attempt, hash } = taken
      const sub = attempt.sub
      // A password change or revokeAll since the password was checked: that password no longer logs in.
      if ((await deps.epochOf(sub) ?? null) !== attempt.epoch) {
        emit('mfa.failure', { userId: sub, reason: 'stale_token', ...metadata })
        throw new MfaTokenInvalidError()
      }
      await prove(sub, proof, metadata, () => attempts.failed(hash, attempt))
      const user = await users.findById!(sub) as IssuableUser | null | undefined
      if (user == null) throw new MfaTokenInvalidError()
      const proofs = { amr: afterFirst(attempt.first), authTime: nowInSeconds() }
      const pair: TokenPair = await sessions.issue(user, { metadata, claims: attempt.first?.claims }, { ...extras, proofs })
      emit('login.success', { userId: sub, familyId: familyOf(pair), ...metadata })
      return pair
    },

    /**
     * POST /reauthenticate's `{ code }` (step-up's CodeVerifier): a TOTP code (digits) or a recovery code of the
     * logged-in user, counted by the same lockout as the login's second step. Resolves to the methods it proves.
     */
    codeVerifier: {
      async verify (userId: string, code: string, metadata: SessionMetadata): Promise<readonly string[]> {
        // Digits are a TOTP code; a recovery code has 10 characters.
        const proof = /^\d{6,8}$/.test(code) ? { code } : { recoveryCode: code }
        await prove(userId, proof, metadata, async () => {})
        return ['otp']
      }
    } satisfies CodeVerifier
  }
}

export type SecondStep = ReturnType<typeof createSecondStep>
