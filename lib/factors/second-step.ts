import type { FastifyBaseLogger } from 'fastify'
import type { Emit } from '../audit/events.js'
import type { JwtAuthUsers } from '../config/options.js'
import { MfaTokenInvalidError } from '../errors.js'
import { nowInSeconds, type CodeVerifier } from '../tokens/authentication.js'
import { familyOf } from '../tokens/pairs.js'
import type { LoginExtras, LoginSessions } from '../tokens/sessions.js'
import type { IssuableUser, MfaChallenge, SessionMetadata, TokenPair } from '../types.js'
import type { Attempts, FirstStep } from './attempt.js'
import type { Assertions } from './passkey-assertion.js'
import { createProving, type FactorLockout } from './proving.js'
import type { Factors, MfaProof } from './second-proof.js'

export type { MfaProof, Factors } from './second-proof.js'
export type { FactorLockout } from './proving.js'

export interface SecondStepDeps {
  mfa: Factors
  /** Passkey assertions; null without the passkeys option. */
  assertions: Assertions | null
  attempts: Attempts
  users: JwtAuthUsers
  lockout: FactorLockout
  sessions: LoginSessions
  epochOf: (userId: string) => Promise<string | undefined>
  emit: Emit
  log: FastifyBaseLogger
}

// After the first step (a password, or another: a provider's sign-in), the second factor's methods.
const afterFirst = (first: FirstStep | undefined, second: readonly string[]): string[] =>
  [...(first?.amr ?? ['pwd']), ...second]

/**
 * The login's second step: after the right password, a user with a confirmed factor gets an `mfa_token` (an attempt
 * in the store's challenges) instead of tokens; `verify` spends it with a code, counting wrong ones toward a
 * lockout of its own, and issues the pair, its proofs the password and the code.
 */
export function createSecondStep (deps: SecondStepDeps) {
  const { mfa, attempts, users, sessions, emit } = deps

  const prove = createProving(deps)

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
      const methods: MfaChallenge['methods'] = factors.recoveryCodes.length > 0 ? ['totp', 'recovery_code'] : ['totp']
      if (deps.assertions !== null && (await users.listPasskeys!(sub)).length > 0) methods.push('passkey')
      return { mfaToken, methods }
    },

    /** POST /mfa/passkey/options: the request options of the mfa_token's user (the token stays). */
    async passkeyOptions (mfaToken: unknown) {
      const attempt = await attempts.peek(mfaToken)
      if (attempt === null || deps.assertions === null) throw new MfaTokenInvalidError()
      return await deps.assertions.options('mfa', attempt.sub)
    },

    /** Spends the mfa_token with a code or a passkey: the pair of a new session. */
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
      const amr = await prove(sub, proof, metadata, () => attempts.failed(hash, attempt))
      const user = await users.findById!(sub) as IssuableUser | null | undefined
      if (user == null) throw new MfaTokenInvalidError()
      const proofs = { amr: afterFirst(attempt.first, amr), authTime: nowInSeconds() }
      const pair: TokenPair = await sessions.issue(
        user, { metadata, claims: attempt.first?.claims }, { ...extras, proofs }
      )
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
        return await prove(userId, proof, metadata, async () => {})
      }
    } satisfies CodeVerifier
  }
}

export type SecondStep = ReturnType<typeof createSecondStep>
