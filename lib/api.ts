import type { FastifyBaseLogger } from 'fastify'
import { createEmailVerification } from './account/email.js'
import { createOneTimeTokens } from './account/one-time-tokens.js'
import { createPasswordFlows } from './account/passwords.js'
import { createSendLimit } from './account/send-limit.js'
import type { Emit } from './audit/events.js'
import type { ResolvedOptions } from './config/options.js'
import { withChallenge } from './request/challenge.js'
import type { ResolvedStore } from './stores/resolve.js'
import type { AuthStore, KeyValueStore } from './stores/types.js'
import { createAccessVerifier } from './tokens/access.js'
import type { Jwt } from './tokens/jwt.js'
import { toJwks } from './tokens/keys.js'
import type { Pairs } from './tokens/pairs.js'
import { createRefresh } from './tokens/refresh.js'
import type { Revocation } from './tokens/revocation.js'
import { checkAppClaims } from './tokens/issue-options.js'
import type { LoginSessions } from './tokens/sessions.js'
import type { ChangePasswordOptions, JwtAuthApi, MfaApi, PasswordHasher, SessionMetadata } from './types.js'
import { createCredentialCheck } from './users/credentials.js'
import { createPasswordHasher } from './users/passwords.js'
import { createMfa, type Mfa } from './factors/mfa.js'
import { createPasskeys } from './factors/passkeys.js'
import { DEFAULT_LOCKOUT } from './config/routes.js'
import { createLockout } from './routes/lockout.js'
import type { UserLookup } from './users/user-lookup.js'

export interface ApiParts {
  config: ResolvedOptions
  store: ResolvedStore
  /** The store as the app gave it (or the default one). */
  given: AuthStore | KeyValueStore
  jwt: Jwt
  pairs: Pairs
  revocation: Revocation
  sessions: LoginSessions
  users: UserLookup
  emit: Emit
  log: FastifyBaseLogger
}

/** `app.jwtAuth`, and the account flows the routes share with it. */
export function createApi (parts: ApiParts) {
  const { config, store, sessions, revocation, users, emit, log } = parts
  // Errors thrown to the app carry their RFC 6750 challenge, as from the hook.
  const challenged = <A extends unknown[], R>(operation: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await operation(...args)
      } catch (error) {
        throw withChallenge(error as Error, config.realm)
      }
    }

  const passwords = createPasswordHasher(config.password)
  // Through app.jwtAuth, as an app (or a test) may wrap its methods.
  const hasher: PasswordHasher = {
    hashPassword: (plain) => api.hashPassword(plain),
    verifyPassword: (hash, plain) => api.verifyPassword(hash, plain),
    needsRehash: (hash) => api.needsRehash(hash)
  }
  const credentials = createCredentialCheck(config.users, hasher, log, (sub) => revocation.epochOf(sub))
  const accountDeps = {
    ...parts,
    passwords: hasher,
    credentials,
    tokens: createOneTimeTokens(store.challenges),
    sendLimit: createSendLimit(store)
  }
  const passwordFlows = createPasswordFlows(accountDeps)
  const emailVerification = createEmailVerification(accountDeps)
  const passkeys = config.passkeys === null
    ? null
    : createPasskeys({ passkeys: config.passkeys, users: config.users, store, emit, log })
  const mfa = config.mfa === null
    ? null
    : createMfa({
      mfa: config.mfa,
      users: config.users,
      store,
      emit,
      log,
      sessions,
      epochOf: (sub) => revocation.epochOf(sub),
      // A lockout of its own, with the logins' numbers (always on: a code is 6 digits).
      lockout: createLockout(config.routes?.lockout ?? DEFAULT_LOCKOUT, store, 'mfa.'),
      assertions: passkeys?.assertions ?? null
    })

  const api: JwtAuthApi = {
    ...passwords,
    async issue (user, options) {
      checkAppClaims(options?.claims)
      return await sessions.issue(user, options)
    },
    refresh: challenged(createRefresh(parts)),
    verify: challenged(createAccessVerifier(parts.jwt, revocation)),
    revoke: challenged(async (token: string, metadata?: SessionMetadata) => {
      const { sub, fam } = await sessions.revoke(token)
      emit('logout', { userId: sub, familyId: fam, ...metadata })
    }),
    async revokeAll (userId) {
      await revocation.revokeUser(String(userId))
      await users.invalidate(String(userId))
      emit('revoke.all', { userId: String(userId) })
    },
    sessions: sessions.list,
    revokeSession: sessions.end,
    invalidateUser (userId) {
      const published = users.invalidate(String(userId))
      // It returned nothing before 0.2: a call that is not awaited must not crash the process when the store fails.
      published.catch((error: unknown) => { log.warn({ err: error }, 'fastify-jwt-auth: invalidateUser failed') })
      return published
    },
    changePassword: (userId: string | number, newPassword: string, options?: ChangePasswordOptions) =>
      passwordFlows.change(userId, newPassword, options),
    requestPasswordReset: (login: string, metadata?: SessionMetadata) => passwordFlows.requestReset(login, metadata),
    resetPassword: (token, newPassword, metadata) => passwordFlows.reset(token, newPassword, metadata),
    requestEmailVerification: (userId) => emailVerification.request(userId),
    verifyEmail: (token, metadata) => emailVerification.verify(token, metadata),
    jwks: () => toJwks(config.signing.kind === 'keys' ? config.signing.keys : []),
    store: parts.given,
    mfa: mfaApi(mfa)
  } as JwtAuthApi
  return { api, credentials, passwordFlows, emailVerification, mfa, passkeys }
}

/** `app.jwtAuth.mfa`: each method rejects when the mfa option is off. */
function mfaApi (mfa: Mfa | null): MfaApi {
  const off = async (): Promise<never> => {
    throw new TypeError('app.jwtAuth.mfa needs the mfa option (with the users MFA group)')
  }
  if (mfa === null) {
    return { setupTotp: off, confirmTotp: off, disable: off, regenerateRecoveryCodes: off, begin: off, verify: off }
  }
  return {
    begin: (user, metadata = {}) => mfa.secondStep.begin(user, metadata),
    verify: (mfaToken, proof, metadata = {}) => mfa.secondStep.verify(mfaToken, proof, metadata),
    setupTotp: (userId, options) => mfa.setupTotp(userId, options),
    confirmTotp: (userId, code, options) => mfa.confirmTotp(userId, code, options),
    disable: (userId, metadata) => mfa.disable(userId, metadata),
    regenerateRecoveryCodes: (userId, metadata) => mfa.regenerateRecoveryCodes(userId, metadata)
  }
}
