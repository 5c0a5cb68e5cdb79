// Types from openid-client (an ES module) as an ES module imports them, also in the CommonJS build's declarations.
import type * as OpenIdClient from 'openid-client' with { 'resolution-mode': 'import' }
import type { ResolvedOAuth, ResolvedProvider } from '../config/oauth.js'
import { providerFailure } from './provider-failure.js'

export type Client = typeof OpenIdClient
export type Configuration = OpenIdClient.Configuration

/** openid-client, and a provider's configuration with it. */
export interface Configured { client: Client, configuration: Configuration }

/**
 * The providers' configurations, made on first use (openid-client is loaded then): an OpenID Provider's by
 * discovery, kept once it succeeds (a failed discovery is tried again on the next sign-in); GitHub's from its known
 * endpoints. Every request to a provider is bounded by `oauth.timeout`.
 */
export function createConfigurations (oauth: ResolvedOAuth) {
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

  /** The provider's configuration; a failure to make it is the provider's failure (503 or 502). */
  return async function configured (provider: ResolvedProvider): Promise<Configured> {
    const client = await load()
    let configuration = configurations.get(provider.name)
    if (configuration === undefined) {
      configuration = configure(client, provider)
      configurations.set(provider.name, configuration)
      configuration.catch(() => { configurations.delete(provider.name) })
    }
    try {
      return { client, configuration: await configuration }
    } catch (error) {
      throw providerFailure(client, error)
    }
  }
}
