import type { FastifyBaseLogger } from 'fastify'
import type { Emit } from '../audit/events.js'
import type { JwtAuthUsers } from '../config/options.js'
import { AccountLockedError, InvalidMfaCodeError } from '../errors.js'
import type { SessionMetadata } from '../types.js'
import type { Assertions } from './passkey-assertion.js'
import { createProofChecks, type Factors, type MfaProof } from './second-proof.js'

/** The per-account lockout of the second factor (routes/lockout.ts, under a namespace of its own). */
export interface FactorLockout {
  begin (subject: { userId: string }): Promise<{ lastChance: boolean }>
  failed (subject: { userId: string }): Promise<void>
  succeeded (subject: { userId: string }): Promise<void>
}

export interface ProvingDeps {
  mfa: Factors
  assertions: Assertions | null
  users: JwtAuthUsers
  lockout: FactorLockout
  emit: Emit
  log: FastifyBaseLogger
}

/** A second factor proved under the MFA lockout, with its events (the second step of a login, reauthentication). */
export function createProving (deps: ProvingDeps) {
  const { mfa, lockout, emit } = deps
  const checks = createProofChecks(deps)

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
    const checked = await checks.check(sub, await mfa.factorsOf(sub), proof)
    if ('wrong' in checked) {
      emitFor('mfa.failure', checked.wrong)
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
    if (checked.method === 'recovery_code') emitFor('mfa.recovery_code.used')
    return checked.amr
  }

  return prove
}
