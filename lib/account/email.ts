import { VerificationTokenInvalidError } from '../errors.js'
import type { AuthUser, SessionMetadata } from '../types.js'
import { withoutSecrets } from '../users/without-secrets.js'
import type { AccountDeps } from './passwords.js'

/** Email verification: a one-time token to the user's address, spent to mark it verified. */
export function createEmailVerification ({ config, tokens, users, emit, log }: AccountDeps) {
  const { markEmailVerified } = config.users

  return {
    /** Sends a verification token to the user, unless their address is verified already. */
    async request (userId: string | number, known?: object): Promise<void> {
      const verification = config.routes?.emailVerification
      if (verification == null) throw new TypeError('requestEmailVerification needs routes.emailVerification.send')
      const sub = String(userId)
      const user = (known ?? await users.fresh(sub)) as { emailVerified?: unknown } | null
      if (user === null || user.emailVerified === true) return
      const token = await tokens.issue('verify', sub, verification.ttl)
      try {
        await verification.send({ user: withoutSecrets(user) as AuthUser, token, expiresIn: verification.ttl })
      } catch (error) {
        log.error({ err: error, userId: sub }, 'fastify-jwt-auth: routes.emailVerification.send failed')
      }
    },

    /** Spends a verification token: the user's address is verified. */
    async verify (token: string, metadata: SessionMetadata = {}): Promise<void> {
      const spent = await tokens.take('verify', token)
      if (spent === null) throw new VerificationTokenInvalidError()
      try {
        await markEmailVerified!(spent.sub)
      } catch (error) {
        // Nothing was marked: the link keeps working.
        await tokens.restore('verify', spent).catch(() => {})
        throw error
      }
      await users.invalidate(spent.sub)
      emit('email.verify', { userId: spent.sub, ...metadata })
    }
  }
}

export type EmailVerification = ReturnType<typeof createEmailVerification>
