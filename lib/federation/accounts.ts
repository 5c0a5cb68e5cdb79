import { randomBytes } from 'node:crypto'
import type { ResolvedProvider } from '../config/oauth.js'
import type { JwtAuthUsers, NewIdentity, NewUser } from '../config/options.js'
import { OAuthIdentityTakenError, OAuthNoAccountError } from '../errors.js'
import type { IssuableUser } from '../types.js'
import type { ProviderProfile } from './providers.js'

export type AccountUser = IssuableUser & { emailVerified?: unknown, email?: unknown }

/** How a sign-in found its user, for the events. */
export type Arrival = 'found' | 'linked' | 'created'

const identityOf = (provider: ResolvedProvider, profile: ProviderProfile): NewIdentity =>
  ({ provider: provider.name, subject: profile.subject, email: profile.email, emailVerified: profile.emailVerified })

/**
 * The users a provider's sign-in is: the user linked to it; else, where the provider links by email, the user whose
 * address the provider verified and who verified it too (an address an attacker registered unverified links
 * nothing); else a new user (users.create, without a password) when sign-ups are open. `keepUnverifiedEmail`: a new
 * user keeps an address the provider did not verify (then unverified).
 */
export function createAccounts (users: JwtAuthUsers, { keepUnverifiedEmail = false } = {}) {
  const identities = users as Required<Pick<JwtAuthUsers, 'findByIdentity' | 'linkIdentity' | 'listIdentities'
  | 'unlinkIdentity'>> & JwtAuthUsers

  async function linkByEmail (provider: ResolvedProvider, profile: ProviderProfile): Promise<AccountUser | null> {
    if (!provider.linkVerifiedEmail || !profile.emailVerified || profile.email === null) return null
    const user = await users.findByEmail!(profile.email) as AccountUser | null | undefined
    if (user == null || user.emailVerified !== true) return null
    const linked = await identities.linkIdentity(String(user.id), identityOf(provider, profile))
    if (!linked) throw new OAuthIdentityTakenError()
    return user
  }

  async function create (provider: ResolvedProvider, profile: ProviderProfile): Promise<AccountUser> {
    if (users.create === undefined) throw new OAuthNoAccountError()
    // An address the provider verified is the user's, verified; one it did not verify is kept only where the user
    // must verify it (routes.emailVerification.required), as a password user's is. The name is the app's to change.
    const email = profile.email !== null && (profile.emailVerified || keepUnverifiedEmail) ? profile.email : undefined
    const verified = email !== undefined && profile.emailVerified
    // No passwordHash: the oauth option asks for a create that takes a NewUser (see JwtAuthUsers.create).
    const input: NewUser = {
      username: `${provider.name}-${randomBytes(6).toString('hex')}`,
      ...(email === undefined ? {} : { email })
    }
    const user = await (users.create as (input: NewUser) => unknown)(input) as AccountUser
    if (verified) await users.markEmailVerified?.(String(user.id))
    if (!await identities.linkIdentity(String(user.id), identityOf(provider, profile))) {
      // Another callback of the same sign-in linked its own new user first: that one is the account.
      const winner = await identities.findByIdentity(provider.name, profile.subject) as AccountUser | null | undefined
      if (winner == null) throw new OAuthIdentityTakenError()
      return winner
    }
    return { ...user, ...(verified ? { emailVerified: true } : {}) }
  }

  return {
    async signIn (
      provider: ResolvedProvider, profile: ProviderProfile
    ): Promise<{ user: AccountUser, arrival: Arrival }> {
      const found = await identities.findByIdentity(provider.name, profile.subject) as AccountUser | null | undefined
      if (found != null) return { user: found, arrival: 'found' }
      const linked = await linkByEmail(provider, profile)
      if (linked !== null) return { user: linked, arrival: 'linked' }
      // An address of another user, who has not linked this provider, fails create (409 EmailTakenError): they
      // sign in with their password, then link the provider.
      return { user: await create(provider, profile), arrival: 'created' }
    },

    /** Links the sign-in to a logged-in user (a link flow). */
    async link (userId: string, provider: ResolvedProvider, profile: ProviderProfile): Promise<void> {
      if (!await identities.linkIdentity(userId, identityOf(provider, profile))) throw new OAuthIdentityTakenError()
    },

    list: (userId: string) => identities.listIdentities(userId),
    unlink: (userId: string, provider: string) => identities.unlinkIdentity(userId, provider)
  }
}

export type Accounts = ReturnType<typeof createAccounts>
