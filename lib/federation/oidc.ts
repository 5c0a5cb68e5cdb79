import type { Client, Configuration } from './configurations.js'
import type { ProviderProfile } from './providers.js'

type Tokens = Awaited<ReturnType<Client['authorizationCodeGrant']>>

const isTrue = (value: unknown): boolean => value === true || value === 'true'

/**
 * Who an OpenID Provider says signed in: the ID token's `sub`, and its `email` and `email_verified`, else the
 * userinfo endpoint's for the same `sub` (a provider that keeps the address out of the ID token).
 */
export async function oidcProfile (
  client: Client, configuration: Configuration, tokens: Tokens
): Promise<ProviderProfile> {
  const claims = tokens.claims()!
  let { email, email_verified: verified } = claims as { email?: unknown, email_verified?: unknown }
  if (email === undefined && configuration.serverMetadata().userinfo_endpoint !== undefined) {
    const info = await client.fetchUserInfo(configuration, tokens.access_token, claims.sub)
    email = info.email
    verified = info.email_verified
  }
  return { subject: claims.sub, email: typeof email === 'string' ? email : null, emailVerified: isTrue(verified) }
}
