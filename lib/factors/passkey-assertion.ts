import { Buffer } from 'node:buffer'
import type { AuthenticationResponseJSON } from '@simplewebauthn/server'
import type { Emit } from '../audit/events.js'
import type { FoundPasskey, JwtAuthUsers } from '../config/options.js'
import type { ResolvedPasskeys } from '../config/passkeys.js'
import type { SessionMetadata } from '../types.js'
import { challengeOf, webauthn, type Ceremony, type PasskeyChallenges } from './passkey-challenges.js'

/** Why an assertion failed: the `passkey.login.failure` event's reason (the client gets one answer for all). */
export type AssertionFailure =
  | 'challenge' | 'unknown_credential' | 'other_user' | 'user_handle' | 'invalid' | 'counter_rollback' | 'counter_race'
  | 'unknown_user'

/** A refused assertion, with its reason (turned into the route's error by the caller). */
export class AssertionError extends Error {
  constructor (
    readonly reason: AssertionFailure,
    readonly about: { userId?: string, credentialId?: string } = {},
    options?: { cause: unknown }
  ) {
    super(`passkey assertion refused: ${reason}`, options)
  }
}

/** A verified assertion: the passkey as stored before it, and what the authenticator said. */
export interface Assertion {
  passkey: FoundPasskey
  userVerified: boolean
}

export interface AssertionDeps {
  passkeys: ResolvedPasskeys
  users: JwtAuthUsers
  challenges: PasskeyChallenges
  emit: Emit
}

/**
 * RFC 8176 methods of a passkey assertion: a hardware-bound key (`hwk`), and `user` when the authenticator verified
 * the user (PIN or biometrics) as its flags say.
 */
export const assertionAmr = (assertion: Assertion): string[] => assertion.userVerified ? ['hwk', 'user'] : ['hwk']

/**
 * Passkey assertions (login, second factor): request options with a one-time challenge of the ceremony, bound to a
 * user when one is known; verification of a response against the stored passkey, refusing a counter that went
 * backwards (a cloned authenticator) and recording the new one only over the value read.
 */
export function createAssertions (deps: AssertionDeps) {
  const { passkeys: config, users, challenges } = deps

  async function options (ceremony: Ceremony, sub: string | null) {
    const allowCredentials = sub === null
      ? []
      : (await users.listPasskeys!(sub)).map(({ id, transports }) => ({ id, transports }))
    const options = await (await webauthn()).generateAuthenticationOptions({
      rpID: config.rpID, allowCredentials, userVerification: config.userVerification, timeout: config.timeout * 1000
    })
    await challenges.put(ceremony, options.challenge, sub)
    return options
  }

  const about = (passkey: FoundPasskey) => ({ userId: passkey.userId, credentialId: passkey.id })

  async function check (passkey: FoundPasskey, response: AuthenticationResponseJSON, challenge: string) {
    try {
      // The stored counter is compared below, once the signature is verified: given as 0 here, the library leaves it.
      return await (await webauthn()).verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: config.origins,
        expectedRPID: config.rpID,
        credential: { id: passkey.id, publicKey: Buffer.from(passkey.publicKey, 'base64url'), counter: 0 },
        requireUserVerification: config.userVerification === 'required'
      })
    } catch (error) {
      throw new AssertionError('invalid', about(passkey), { cause: error })
    }
  }

  /** Verifies `response` for the ceremony (of `sub` when given): the passkey, or an AssertionError. */
  async function verify (ceremony: Ceremony, response: unknown, sub?: string): Promise<Assertion> {
    const challenge = challengeOf(response)
    // Spent first: a response that fails below cannot be tried again.
    const pending = challenge === null ? null : await challenges.take(ceremony, challenge)
    if (pending === null || (sub !== undefined && pending.sub !== sub)) throw new AssertionError('challenge')
    const assertion = response as AuthenticationResponseJSON
    const passkey = await users.findPasskey!(assertion.id)
    if (passkey == null) throw new AssertionError('unknown_credential')
    if (pending.sub !== null && passkey.userId !== pending.sub) throw new AssertionError('other_user', about(passkey))
    const userHandle = assertion.response.userHandle
    if (userHandle !== undefined && userHandle !== passkey.userHandle) {
      throw new AssertionError('user_handle', about(passkey))
    }
    const { verified, authenticationInfo: info } = await check(passkey, assertion, challenge!)
    if (!verified) throw new AssertionError('invalid', about(passkey))
    // Counters of 0 (synced passkeys) never move; one that does must go up (WebAuthn section 6.1.1).
    if ((info.newCounter > 0 || passkey.counter > 0) && info.newCounter <= passkey.counter) {
      throw new AssertionError('counter_rollback', about(passkey))
    }
    const use = { counter: info.newCounter, backedUp: info.credentialBackedUp, lastUsedAt: new Date().toISOString() }
    if (!await users.updatePasskey!(passkey.id, use, { previousCounter: passkey.counter })) {
      throw new AssertionError('counter_race', about(passkey))
    }
    return { passkey, userVerified: info.userVerified }
  }

  return {
    options,
    verify,
    /** The event of a refused assertion; what else was thrown passes (a store down is a 503). */
    failed (error: unknown, metadata: SessionMetadata): AssertionError {
      if (!(error instanceof AssertionError)) throw error
      deps.emit('passkey.login.failure', { reason: error.reason, ...error.about, ...metadata })
      return error
    }
  }
}

export type Assertions = ReturnType<typeof createAssertions>
