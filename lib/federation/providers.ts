import type { ResolvedOAuth, ResolvedProvider } from '../config/oauth.js'
import { createConfigurations } from './configurations.js'
import { githubProfile } from './github.js'
import { oidcProfile } from './oidc.js'
import { providerFailure } from './provider-failure.js'

/** Who the provider says signed in. */
export interface ProviderProfile {
  subject: string
  email: string | null
  emailVerified: boolean
}

/** What the redirect to the provider carries, and what its callback checks against. */
export interface AuthorizationRequest {
  url: URL
  verifier: string
  nonce: string | undefined
}

/**
 * The providers' side of a sign-in: the URL to send the browser to, and who the callback says signed in. Their
 * configurations (discovery) are made on first use (configurations.ts).
 */
export function createProviders (oauth: ResolvedOAuth) {
  const configured = createConfigurations(oauth)

  return {
    /** The URL to send the browser to: state, PKCE S256 and, for OpenID Connect, a nonce. */
    async authorize (provider: ResolvedProvider, redirectUri: string, state: string): Promise<AuthorizationRequest> {
      const { client, configuration } = await configured(provider)
      const verifier = client.randomPKCECodeVerifier()
      const nonce = provider.type === 'oidc' ? client.randomNonce() : undefined
      const url = client.buildAuthorizationUrl(configuration, {
        redirect_uri: redirectUri,
        scope: provider.scopes.join(' '),
        state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        ...(nonce === undefined ? {} : { nonce })
      })
      return { url, verifier, nonce }
    },

    /**
     * Checks the callback (state, the code at the token endpoint with the PKCE verifier, the ID token's issuer,
     * audience, nonce, expiry and signature by the provider's JWKS) and says who signed in.
     */
    async profile (
      provider: ResolvedProvider, callback: URL, checks: { state: string, verifier: string, nonce: string | undefined }
    ): Promise<ProviderProfile> {
      const { client, configuration } = await configured(provider)
      try {
        const tokens = await client.authorizationCodeGrant(configuration, callback, {
          expectedState: checks.state,
          pkceCodeVerifier: checks.verifier,
          ...(checks.nonce === undefined ? {} : { expectedNonce: checks.nonce, idTokenExpected: true })
        })
        if (provider.type === 'github') return await githubProfile(client, configuration, provider, tokens.access_token)
        return await oidcProfile(client, configuration, tokens)
      } catch (error) {
        if ((error as { statusCode?: unknown }).statusCode !== undefined) throw error
        throw providerFailure(client, error)
      }
    }
  }
}

export type Providers = ReturnType<typeof createProviders>
