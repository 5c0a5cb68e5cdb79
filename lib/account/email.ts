import { VerificationTokenInvalidError } from '../errors.js'
import type { SessionMetadata } from '../types.js'
import { fingerprint } from './one-time-tokens.js'
import { sendLink, type LinkMessage } from './send-limit.js'
import type { AccountDeps } from './passwords.js'

/** Email verification: a one-time token to the user's address, spent to mark that address verified. */
export function createEmailVerification ({ config, tokens, sendLimit, users, emit, log }: AccountDeps) {
  const { markEmailVerified } = config.users

  return {
    /** Sends a verification token to the user, unless their address is verified already. */
    async request (userId: string | number, known?: object): Promise<void> {
      const verification = config.routes?.emailVerification
      if (verification == null) throw new TypeError('requestEmailVerification needs routes.emailVerification.send')
      const sub = String(userId)
      const user = (known ?? await users.fresh(sub)) as { emailVerified?: unknown, email?: unknown } | null
      if (user === null || user.emailVerified === true) return
      // Tied to the address it goes to: a token sent before the address changed does not verify the new one.
      const message: LinkMessage = {
        purpose: 'verify', userId: sub, user, state: user.email, route: verification, option: 'routes.emailVerification'
      }
      const ticket = await sendLimit.reserve(message)
      if (ticket === null) {
        log.warn({ userId: sub }, 'fastify-jwt-auth: verification not sent: routes.emailVerification.perAccount')
        return
      }
      await sendLink(ticket, message, { tokens, log })
    },

    /** Spends a verification token: the address it was sent to, if still the user's, is verified. */
    async verify (token: string, metadata: SessionMetadata = {}): Promise<void> {
      const spent = await tokens.take('verify', token)
      const user = spent === null ? null : await users.fresh(spent.sub) as { email?: unknown } | null
      if (spent === null || user === null || fingerprint(user.email) !== spent.fingerprint) {
        emit('email.verify.failure', { userId: user === null ? undefined : spent?.sub, ...metadata })
        throw new VerificationTokenInvalidError()
      }
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
