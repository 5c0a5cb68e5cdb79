import type { ResolvedProvider } from '../config/oauth.js'
import { OAuthProviderError, OAuthSignInFailedError } from '../errors.js'
import type { Client, Configuration } from './configurations.js'
import type { ProviderProfile } from './providers.js'

interface GitHubEmail { email?: unknown, primary?: unknown, verified?: unknown }

/**
 * GitHub is plain OAuth 2.0: who signed in is its REST API's `GET /user` (`id`, a number, is the stable subject;
 * the login can change) and the address is the primary one of `GET /user/emails`, with its `verified` flag.
 */
export async function githubProfile (
  client: Client, configuration: Configuration, provider: ResolvedProvider, accessToken: string
): Promise<ProviderProfile> {
  async function get (path: string): Promise<unknown> {
    const headers = new Headers({ accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' })
    const url = new URL(path, provider.apiUrl)
    const response = await client.fetchProtectedResource(configuration, accessToken, url, 'GET', null, headers)
    if (response.status >= 500) throw new OAuthProviderError()
    // A token GitHub does not take (revoked, without the scopes): no sign-in.
    if (!response.ok) throw Object.assign(new OAuthSignInFailedError(), { reason: 'profile_invalid' })
    return await response.json().catch((error: unknown) => { throw new OAuthProviderError({ cause: error }) })
  }
  const user = await get('user') as { id?: unknown }
  if (!Number.isSafeInteger(user?.id)) throw Object.assign(new OAuthSignInFailedError(), { reason: 'profile_invalid' })
  const emails = await get('user/emails')
  const primary = Array.isArray(emails)
    ? (emails as GitHubEmail[]).find((entry) => entry?.primary === true && typeof entry.email === 'string')
    : undefined
  return {
    subject: String(user.id),
    email: (primary?.email as string | undefined) ?? null,
    emailVerified: primary?.verified === true
  }
}
