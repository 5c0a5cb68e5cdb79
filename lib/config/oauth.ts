import { checkKeys, fail, isObject, isScopeToken } from './check.js'
import { toMilliseconds, type Duration } from './duration.js'
import { IDENTITY_USER_CALLBACKS } from './identities.js'
import { isLoopback } from './issuers.js'

/** One provider of the `oauth` option: any OpenID Provider (by discovery), or GitHub (plain OAuth 2.0). */
export interface OAuthProviderOptions {
  /**
   * The OpenID Provider's issuer (`https://`), whose discovery document says everything else. Default, for a
   * provider named `google`: `https://accounts.google.com`. With `type: 'github'`: the GitHub origin (default
   * `https://github.com`; yours for GitHub Enterprise Server).
   */
  issuer?: string
  clientId: string
  /** The client secret; none for a public client (PKCE alone). */
  clientSecret?: string
  /**
   * Default `['openid', 'email', 'profile']` (OpenID Connect; `openid` is required), `['read:user', 'user:email']`
   * (GitHub).
   */
  scopes?: string[]
  /**
   * Link a first sign-in to the user who has the same email address, when the provider says it verified it and the
   * user verified it too (needs `users.findByEmail`). Default false: such a sign-in is refused (409) instead.
   */
  linkVerifiedEmail?: boolean
  /** `'oidc'` (default) or `'github'` (default for a provider named `github`). */
  type?: 'oidc' | 'github'
  /** GitHub only: its REST API (default `https://api.github.com`; `<origin>/api/v3` on Enterprise Server). */
  apiUrl?: string
  /**
   * With the `mfa` option: a user with a second factor gives it after this provider's sign-in too (default true);
   * false trusts the provider's own authentication instead.
   */
  mfa?: boolean
}

export interface OAuthOptions {
  /**
   * The public origin the providers send the browser back to (`https://app.example.com`; http only on loopback), never
   * taken from a request's Host header: the callback is `<baseUrl><routes prefix>/oauth/<provider>/callback`.
   */
  baseUrl: string
  providers: Record<string, OAuthProviderOptions>
  /** Where the browser lands after a sign-in, with the one-time `code`: a path of `baseUrl`, or a URL. */
  successRedirect: string
  /** Origins (any URL of theirs) or exact URLs a sign-in may ask to land on instead, with `?redirect_to=`. */
  allowedRedirects?: string[]
  /** How long a request to a provider may take; default '10s'. */
  timeout?: Duration
}

export interface ResolvedProvider {
  name: string
  type: 'oidc' | 'github'
  issuer: URL
  clientId: string
  clientSecret: string | undefined
  scopes: string[]
  linkVerifiedEmail: boolean
  /** GitHub's REST API. */
  apiUrl: URL
  mfa: boolean
}

export interface ResolvedOAuth {
  /** The origin, without a trailing slash. */
  baseUrl: string
  providers: Map<string, ResolvedProvider>
  successRedirect: URL
  /** Origins (any URL of theirs) and exact URLs. */
  allowedOrigins: Set<string>
  allowedUrls: Set<string>
  timeoutMs: number
}

const OPTIONS = ['baseUrl', 'providers', 'successRedirect', 'allowedRedirects', 'timeout']
const PROVIDER_OPTIONS = ['issuer', 'clientId', 'clientSecret', 'scopes', 'linkVerifiedEmail', 'type', 'apiUrl', 'mfa']
// In a path segment as it is, and in a key of the store.
const PROVIDER_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/
const DEFAULT_ISSUERS: Record<string, string> = { google: 'https://accounts.google.com' }

/** An http(s) URL; `https` unless on loopback (development). */
function webUrl (value: unknown, path: string, what = 'an https URL (or http on loopback)'): URL {
  const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined
  if (url === undefined || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname)))) {
    fail(`${path} must be ${what} (got ${JSON.stringify(value)})`)
  }
  if (url.username !== '' || url.password !== '' || url.hash !== '') {
    fail(`${path} must not carry credentials or a #fragment`)
  }
  return url
}

/** An origin: scheme, host and port, nothing after. */
function origin (value: unknown, path: string): string {
  const url = webUrl(value, path, 'an https origin (or http on loopback), such as https://app.example.com')
  if (url.pathname !== '/' || url.search !== '' || (value as string).replace(/\/$/, '') !== url.origin) {
    fail(`${path} must be an origin, with no path or query (got ${JSON.stringify(value)}: use ${url.origin})`)
  }
  return url.origin
}

/** GitHub's API as a base URL: ending with '/', so that `user` resolves under it (`/api/v3/user`). */
function apiUrlOf (value: unknown, path: string): URL {
  const url = webUrl(value ?? 'https://api.github.com', path)
  if (!url.pathname.endsWith('/')) url.pathname += '/'
  return url
}

function nonEmpty (value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) fail(`${path} must be a non-empty string`)
  return value
}

function resolveProvider (name: string, options: unknown): ResolvedProvider {
  const path = `oauth.providers.${name}`
  if (!PROVIDER_NAME.test(name)) {
    fail(`oauth.providers: ${JSON.stringify(name)} must be 1 to 64 lower-case letters, digits, - and _ (it is in URLs)`)
  }
  if (!isObject(options)) fail(`${path} must be { issuer, clientId, clientSecret?, scopes?, linkVerifiedEmail? }`)
  checkKeys(options, PROVIDER_OPTIONS, path)
  const type = options.type ?? (name === 'github' ? 'github' : 'oidc')
  if (type !== 'oidc' && type !== 'github') fail(`${path}.type must be 'oidc' or 'github' (got ${String(type)})`)
  const issuer = options.issuer ?? (type === 'github' ? 'https://github.com' : DEFAULT_ISSUERS[name])
  if (issuer === undefined) fail(`${path}.issuer is required: the OpenID Provider's https:// issuer`)
  const scopes = options.scopes ?? (type === 'github' ? ['read:user', 'user:email'] : ['openid', 'email', 'profile'])
  if (!Array.isArray(scopes) || !scopes.every(isScopeToken)) fail(`${path}.scopes must be an array of scope names`)
  if (type === 'oidc' && !scopes.includes('openid')) {
    fail(`${path}.scopes must include 'openid' (an OpenID Connect sign-in)`)
  }
  const { linkVerifiedEmail = false, clientSecret, mfa = true } = options
  if (typeof linkVerifiedEmail !== 'boolean') fail(`${path}.linkVerifiedEmail must be a boolean`)
  if (typeof mfa !== 'boolean') fail(`${path}.mfa must be a boolean`)
  if (type !== 'github' && options.apiUrl !== undefined) fail(`${path}.apiUrl is for type: 'github' only`)
  return {
    name,
    type,
    issuer: webUrl(issuer, `${path}.issuer`, 'an https URL (http only on loopback)'),
    clientId: nonEmpty(options.clientId, `${path}.clientId`),
    clientSecret: clientSecret === undefined ? undefined : nonEmpty(clientSecret, `${path}.clientSecret`),
    scopes: [...scopes],
    linkVerifiedEmail,
    mfa,
    apiUrl: apiUrlOf(options.apiUrl, `${path}.apiUrl`)
  }
}

function resolveRedirects (value: unknown): Pick<ResolvedOAuth, 'allowedOrigins' | 'allowedUrls'> {
  const allowedOrigins = new Set<string>()
  const allowedUrls = new Set<string>()
  if (value === undefined) return { allowedOrigins, allowedUrls }
  if (!Array.isArray(value)) fail('oauth.allowedRedirects must be an array of origins or URLs')
  value.forEach((entry, index) => {
    const url = webUrl(entry, `oauth.allowedRedirects[${index}]`)
    // An origin as written (no path, not even '/') allows any URL of it; anything else is one exact URL.
    if ((entry as string) === url.origin) allowedOrigins.add(url.origin)
    else allowedUrls.add(url.href)
  })
  return { allowedOrigins, allowedUrls }
}

/**
 * The `oauth` option: validated at register, with the users callbacks it needs (`users.findById`, the identities
 * group; `users.findByEmail` where a provider links by email) and the routes it runs under.
 */
export function resolveOAuth (oauth: unknown, users: Record<string, unknown>, routes: boolean): ResolvedOAuth | null {
  if (oauth === undefined || oauth === false) return null
  if (!isObject(oauth)) fail('oauth must be { baseUrl, providers, successRedirect, allowedRedirects? }')
  checkKeys(oauth, OPTIONS, 'oauth')
  if (!routes) fail('oauth needs the routes option: its routes run under the routes prefix')
  const baseUrl = origin(oauth.baseUrl, 'oauth.baseUrl')
  if (!isObject(oauth.providers) || Object.keys(oauth.providers).length === 0) {
    fail('oauth.providers must name at least one provider: { google: { clientId, clientSecret } }')
  }
  const providers = new Map(
    Object.entries(oauth.providers).map(([name, options]) => [name, resolveProvider(name, options)])
  )
  const needed = ['findById', ...IDENTITY_USER_CALLBACKS,
    ...([...providers.values()].some((provider) => provider.linkVerifiedEmail) ? ['findByEmail'] : [])]
  const missing = needed.filter((name) => typeof users[name] !== 'function')
  if (missing.length > 0) {
    fail(`oauth needs users.${missing.join(', users.')} (the users identities group: kyselyUsers has it)`)
  }
  if (typeof oauth.successRedirect !== 'string' || oauth.successRedirect === '') {
    fail('oauth.successRedirect must be a path of oauth.baseUrl (/welcome) or a URL')
  }
  const successRedirect = oauth.successRedirect.startsWith('/') && !oauth.successRedirect.startsWith('//')
    ? new URL(oauth.successRedirect, baseUrl)
    : webUrl(oauth.successRedirect, 'oauth.successRedirect')
  return {
    baseUrl,
    providers,
    successRedirect,
    ...resolveRedirects(oauth.allowedRedirects),
    timeoutMs: toMilliseconds(oauth.timeout ?? '10s', 'oauth.timeout', { min: 100, max: 60_000 })
  }
}
