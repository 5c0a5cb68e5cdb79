// Types from openid-client (an ES module) as an ES module imports them, also in the CommonJS build's declarations.
import type * as OpenIdClient from 'openid-client' with { 'resolution-mode': 'import' }
import type { ResolvedOAuth, ResolvedProvider } from '../config/oauth.js'
import { OAuthProviderError, OAuthProviderUnavailableError, OAuthSignInFailedError } from '../errors.js'
import { githubProfile } from './github.js'

export type Client = typeof OpenIdClient
export type Configuration = OpenIdClient.Configuration

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

/** Why a sign-in failed, for the oauth.failure event (the client gets the error's code). */
export type FailureReason = 'provider_error' | 'token_refused' | 'id_token_invalid' | 'profile_invalid'

// openid-client's codes for an answer that is not one (a 5xx, an HTML page): the provider is broken, not the user.
const NOT_AN_ANSWER = new Set(['OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON', 'OAUTH_PARSE_ERROR'])
const UNREACHABLE = new Set(['OAUTH_TIMEOUT', 'OAUTH_ABORT'])

/**
 * The error a provider's failure is answered with: unreachable or too slow (503), an answer that is not one (502),
 * else a sign-in that failed its checks (401), with the reason for the event.
 */
export function providerFailure (client: Client, error: unknown): Error & { reason?: FailureReason } {
  const code = (error as { code?: unknown } | null)?.code
  // fetch's own failure (a refused connection, a TLS error) is a TypeError.
  if (error instanceof TypeError || UNREACHABLE.has(code as string)) {
    return new OAuthProviderUnavailableError({ cause: error })
  }
  if (NOT_AN_ANSWER.has(code as string)) return new OAuthProviderError({ cause: error })
  const reason: FailureReason = error instanceof client.AuthorizationResponseError
    ? 'provider_error'
    : error instanceof client.ResponseBodyError ? 'token_refused' : 'id_token_invalid'
  return Object.assign(new OAuthSignInFailedError({ cause: error }), { reason })
}

const isTrue = (value: unknown): boolean => value === true || value === 'true'

/**
 * The providers' clients, made on first use (openid-client is loaded then): an OpenID Provider's configuration by
 * discovery, kept once it succeeds (a failed discovery is tried again on the next sign-in); GitHub's from its known
 * endpoints. Every request to a provider is bounded by `oauth.timeout`.
 */
export function createProviders (oauth: ResolvedOAuth) {
  let loaded: Promise<Client> | undefined
  const configurations = new Map<string, Promise<Configuration>>()
  const timeout = oauth.timeoutMs / 1000
  const load = (): Promise<Client> => (loaded ??= import('openid-client'))

  async function configure (client: Client, provider: ResolvedProvider): Promise<Configuration> {
    const { clientId, clientSecret } = provider
    const authentication = clientSecret === undefined ? client.None() : client.ClientSecretPost(clientSecret)
    if (provider.type === 'oidc') {
      // Non-repudiation: the ID token's signature is checked by the provider's JWKS too (openid-client trusts the
      // token endpoint's TLS otherwise, which OpenID Connect allows): a token signed by any other key is refused.
      return await client.discovery(provider.issuer, clientId, undefined, authentication,
        { timeout, execute: [client.enableNonRepudiationChecks] })
    }
    const server = {
      issuer: provider.issuer.href,
      authorization_endpoint: new URL('/login/oauth/authorize', provider.issuer).href,
      token_endpoint: new URL('/login/oauth/access_token', provider.issuer).href
    }
    const configuration = new client.Configuration(server, clientId, undefined, authentication)
    configuration.timeout = timeout
    return configuration
  }

  async function configurationOf (client: Client, provider: ResolvedProvider): Promise<Configuration> {
    let configuration = configurations.get(provider.name)
    if (configuration === undefined) {
      configuration = configure(client, provider)
      configurations.set(provider.name, configuration)
      configuration.catch(() => { configurations.delete(provider.name) })
    }
    try {
      return await configuration
    } catch (error) {
      throw providerFailure(client, error)
    }
  }

  return {
    /** The URL to send the browser to: state, PKCE S256 and, for OpenID Connect, a nonce. */
    async authorize (provider: ResolvedProvider, redirectUri: string, state: string): Promise<AuthorizationRequest> {
      const client = await load()
      const configuration = await configurationOf(client, provider)
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
      const client = await load()
      const configuration = await configurationOf(client, provider)
      try {
        const tokens = await client.authorizationCodeGrant(configuration, callback, {
          expectedState: checks.state,
          pkceCodeVerifier: checks.verifier,
          ...(checks.nonce === undefined ? {} : { expectedNonce: checks.nonce, idTokenExpected: true })
        })
        if (provider.type === 'github') return await githubProfile(client, configuration, provider, tokens.access_token)
        const claims = tokens.claims()!
        let { email, email_verified: verified } = claims as { email?: unknown, email_verified?: unknown }
        // A provider that keeps the address out of the ID token gives it at the userinfo endpoint, for the same sub.
        if (email === undefined && configuration.serverMetadata().userinfo_endpoint !== undefined) {
          const info = await client.fetchUserInfo(configuration, tokens.access_token, claims.sub)
          email = info.email
          verified = info.email_verified
        }
        return { subject: claims.sub, email: typeof email === 'string' ? email : null, emailVerified: isTrue(verified) }
      } catch (error) {
        if ((error as { statusCode?: unknown }).statusCode !== undefined) throw error
        throw providerFailure(client, error)
      }
    }
  }
}

export type Providers = ReturnType<typeof createProviders>
