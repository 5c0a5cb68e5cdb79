import type { FastifyBaseLogger } from 'fastify'
import type { JwtAuthUsers, StoredFactors } from '../config/options.js'
import { AssertionError, assertionAmr, type Assertions } from './passkey-assertion.js'
import type { RecoveryCodes } from './recovery-codes.js'
import type { Sealing } from './sealing.js'
import type { Totp } from './totp.js'

/** The second factor of a login: a TOTP code, one of the recovery codes, or a passkey's assertion (its JSON). */
export type MfaProof = { code: string } | { recoveryCode: string } | { passkey: unknown }

/** The factors themselves, and the user's as stored. */
export interface Factors {
  sealing: Sealing
  totp: Totp
  recoveryCodes: RecoveryCodes
  factorsOf (sub: string): Promise<StoredFactors>
}

export interface ProofDeps {
  mfa: Factors
  users: JwtAuthUsers
  log: FastifyBaseLogger
  /** Passkey assertions; null without the passkeys option (a passkey proof is then a wrong one). */
  assertions: Assertions | null
}

/** A proof checked: the factor it is and its RFC 8176 methods, or why it is wrong (the mfa.failure reason). */
export type Checked = { method: 'totp' | 'recovery_code' | 'passkey', amr: string[] } | { wrong: string }

/** What a wrong proof of each kind is called in the mfa.failure event. */
const wrongOf = (proof: MfaProof): string =>
  'code' in proof ? 'wrong_code' : 'recoveryCode' in proof ? 'wrong_recovery_code' : 'wrong_passkey'

/**
 * RFC 8176 methods of a code: a one-time password. A recovery code is one too (RFC 4949's "one-time password": a
 * secret good for one use), of the same strength as a TOTP code against a guess; the `mfa.recovery_code.used` event
 * tells them apart where that matters.
 */
const CODE_AMR = ['otp']

/** Checks a second factor of a user with TOTP on: a code (spent when right), a recovery code (spent), a passkey. */
export function createProofChecks (deps: ProofDeps) {
  const { mfa, users, log } = deps

  /** A secret sealed under an older key moves to the first one; a failure to store it fails nothing. */
  async function reseal (sub: string, sealed: string, plaintext: string): Promise<void> {
    try {
      await users.updateTotp!(sub, mfa.sealing.seal(sub, plaintext), { previous: sealed })
    } catch (error) {
      log.warn({ err: error, userId: sub }, 'fastify-jwt-auth: could not store the TOTP secret under the new key')
    }
  }

  async function checkCode (sub: string, sealed: string, code: string): Promise<boolean> {
    const opened = mfa.sealing.open(sub, sealed)
    if (opened === null) {
      log.error({ userId: sub }, 'fastify-jwt-auth: a TOTP secret does not open with mfa.encryptionKey (its key ' +
        'is no longer listed?): the user can log in with a recovery code only')
      return false
    }
    if (!await mfa.totp.verify(sub, opened.plaintext, code)) return false
    if (!opened.current) await reseal(sub, sealed, opened.plaintext)
    return true
  }

  async function checkPasskey (sub: string, response: unknown): Promise<Checked> {
    if (deps.assertions === null) return { wrong: 'wrong_passkey' }
    try {
      return { method: 'passkey', amr: assertionAmr(await deps.assertions.verify('mfa', response, sub)) }
    } catch (error) {
      if (!(error instanceof AssertionError)) throw error
      return { wrong: `passkey_${error.reason}` }
    }
  }

  return {
    async check (sub: string, factors: StoredFactors, proof: MfaProof): Promise<Checked> {
      if (factors.totp === null) return { wrong: wrongOf(proof) }
      if ('passkey' in proof) return await checkPasskey(sub, proof.passkey)
      if ('code' in proof) {
        return await checkCode(sub, factors.totp, proof.code)
          ? { method: 'totp', amr: CODE_AMR }
          : { wrong: 'wrong_code' }
      }
      const hash = mfa.recoveryCodes.find(sub, proof.recoveryCode, factors.recoveryCodes)
      return hash !== undefined && await users.useRecoveryCode!(sub, hash)
        ? { method: 'recovery_code', amr: CODE_AMR }
        : { wrong: 'wrong_recovery_code' }
    }
  }
}
