import { Buffer } from 'node:buffer'
import { randomBytes } from 'node:crypto'
import type { RegistrationResponseJSON } from '@simplewebauthn/server'
import type { FastifyBaseLogger } from 'fastify'
import type { Emit } from '../audit/events.js'
import type { JwtAuthUsers, StoredPasskey } from '../config/options.js'
import type { ResolvedPasskeys } from '../config/passkeys.js'
import { PasskeyInvalidError, PasskeyNotFoundError, PasskeyTakenError, UserNotFoundError } from '../errors.js'
import type { ResolvedStore } from '../stores/resolve.js'
import type { SessionMetadata } from '../types.js'
import { createAssertions } from './passkey-assertion.js'
import { challengeOf, createPasskeyChallenges, webauthn } from './passkey-challenges.js'

export interface PasskeysDeps {
  passkeys: ResolvedPasskeys
  users: JwtAuthUsers
  store: ResolvedStore
  emit: Emit
  log: FastifyBaseLogger
}

/** A passkey as the routes show it: no key material. */
export interface PasskeyView {
  id: string
  name: string
  transports: string[]
  backedUp: boolean
  createdAt: string
  lastUsedAt: string | null
}

// What kyselyUsers' columns hold (LIMITS.credentialId): WebAuthn allows longer ids, authenticators give 16 to 64 bytes.
const MAX_CREDENTIAL_ID = 700
const DEFAULT_NAME = 'Passkey'
// COSE algorithms: Ed25519, ES256, RS256. Given, not the library's default: that one offers ML-DSA first where the
// runtime has it (Node 24 and later, with an experimental-feature warning), which Chromium then picks; such a key
// would not verify on Node 22, a line the package supports, and its signatures are larger than the login allows.
export const ALGORITHMS = [-8, -7, -257]

/** The name an authenticator shows for the account. */
function accountName (user: unknown, sub: string): string {
  const { username, email } = user as { username?: unknown, email?: unknown }
  if (typeof username === 'string' && username !== '') return username
  return typeof email === 'string' && email !== '' ? email : sub
}

export const viewOf = ({ id, name, transports, backedUp, createdAt, lastUsedAt }: StoredPasskey): PasskeyView =>
  ({ id, name, transports, backedUp, createdAt, lastUsedAt })

/**
 * Passkeys of an account: registration (creation options with a one-time challenge bound to the user, then the
 * verified attestation stored), the list and removal; assertions (login, second factor) in passkey-assertion.ts.
 */
export function createPasskeys (deps: PasskeysDeps) {
  const { passkeys: config, users, store, emit, log } = deps
  const challenges = createPasskeyChallenges(store, config.timeout)
  const assertions = createAssertions({ ...deps, challenges })

  async function verifyAttestation (sub: string, response: unknown) {
    const challenge = challengeOf(response)
    // Spent first: a response that fails below cannot be tried again.
    const pending = challenge === null ? null : await challenges.take('register', challenge)
    if (pending?.sub !== sub) throw new PasskeyInvalidError()
    try {
      const { registrationInfo } = await (await webauthn()).verifyRegistrationResponse({
        response: response as RegistrationResponseJSON,
        expectedChallenge: challenge!,
        expectedOrigin: config.origins,
        expectedRPID: config.rpID,
        requireUserVerification: config.userVerification === 'required',
        supportedAlgorithmIDs: ALGORITHMS
      })
      // Verified, and of the credential the response names: the library would store the attested one.
      if (registrationInfo?.credential.id !== (response as { id: unknown }).id) {
        throw new Error('the attestation does not verify, or names another credential')
      }
      return registrationInfo!
    } catch (error) {
      log.info({ err: error, userId: sub }, 'fastify-jwt-auth: a passkey registration does not verify')
      throw new PasskeyInvalidError({ cause: error })
    }
  }

  return {
    assertions,

    /** Creation options for the user: a new challenge, the user's passkeys excluded. */
    async registrationOptions (userId: string, user: unknown) {
      const sub = String(userId)
      const handle = await users.passkeyUserHandle!(sub, randomBytes(32).toString('base64url'))
      if (handle == null) throw new UserNotFoundError()
      const existing = await users.listPasskeys!(sub)
      const options = await (await webauthn()).generateRegistrationOptions({
        rpName: config.rpName,
        rpID: config.rpID,
        userName: accountName(user, sub),
        userID: Buffer.from(handle, 'base64url'),
        timeout: config.timeout * 1000,
        attestationType: 'none',
        excludeCredentials: existing.map(({ id, transports }) => ({ id, transports })),
        authenticatorSelection: { residentKey: 'required', userVerification: config.userVerification },
        supportedAlgorithmIDs: ALGORITHMS
      })
      await challenges.put('register', options.challenge, sub)
      return options
    },

    /** Verifies the response to the user's creation options and stores the passkey. */
    async register (userId: string, response: unknown, name: string | undefined, metadata: SessionMetadata) {
      const sub = String(userId)
      const { credential, credentialBackedUp } = await verifyAttestation(sub, response)
      if (credential.id.length > MAX_CREDENTIAL_ID) throw new PasskeyInvalidError()
      const passkey: StoredPasskey = {
        id: credential.id,
        publicKey: Buffer.from(credential.publicKey).toString('base64url'),
        counter: credential.counter,
        transports: credential.transports ?? [],
        backedUp: credentialBackedUp,
        name: name ?? DEFAULT_NAME,
        createdAt: new Date().toISOString(),
        lastUsedAt: null
      }
      if (!await users.addPasskey!(sub, passkey)) throw new PasskeyTakenError()
      emit('passkey.register', { userId: sub, credentialId: passkey.id, ...metadata })
      return viewOf(passkey)
    },

    async list (userId: string): Promise<PasskeyView[]> {
      return (await users.listPasskeys!(String(userId))).map(viewOf)
    },

    /** Removes the user's passkey (the caller has checked it is not their last way to log in). */
    async remove (userId: string, credentialId: string, metadata: SessionMetadata): Promise<void> {
      const sub = String(userId)
      if (!await users.removePasskey!(sub, credentialId)) throw new PasskeyNotFoundError()
      emit('passkey.remove', { userId: sub, credentialId, ...metadata })
    }
  }
}

export type Passkeys = ReturnType<typeof createPasskeys>
