import { COOKIE_LOGIN, type CookieLogin } from '../tokens/cookie-login.js'
import type { IssuableUser, IssueOptions, JwtAuthApi, TokenPair } from '../types.js'

/** Any Fastify instance the plugin is registered on (typed loosely, so apps with a type provider fit). */
export interface AppWithJwtAuth {
  readonly jwtAuth: JwtAuthApi
}

/**
 * Headers for `app.inject` of a request authenticated like a browser with cookies. A type literal, not an
 * interface, so that it fits where headers are expected (an index signature).
 */
export type AuthCookieHeaders = {
  cookie: string
  'x-csrf-token': string
}

/** The plugin's decorator, or an error that says what to do: it is missing before register has run. */
function jwtAuthOf (app: AppWithJwtAuth, caller: string): JwtAuthApi {
  const api = (app as Partial<AppWithJwtAuth> | null | undefined)?.jwtAuth
  if (api === undefined || api === null || typeof api.issue !== 'function') {
    throw new TypeError(`${caller}: the app has no jwtAuth decorator: register fastify-jwt-auth on it (await ` +
      'app.register(jwtAuth, options), or await app.ready()) and pass that app, not a child context')
  }
  return api
}

/**
 * A bearer header for `user`: a new login session through `app.jwtAuth.issue`,
 * so the token carries whatever the app signs with (secret or keys, issuer,
 * audience, lifetimes). `options` are issue's: extra claims, session metadata.
 */
export async function authHeaders (
  app: AppWithJwtAuth, user: IssuableUser, options?: IssueOptions
): Promise<{ authorization: string }> {
  const { accessToken } = await jwtAuthOf(app, 'authHeaders').issue(user, options)
  return { authorization: `Bearer ${accessToken}` }
}

/**
 * The headers a browser sends after logging in to an app with `cookies`: its
 * token cookies (the refresh and CSRF cookies, and the access token cookie
 * with `cookies.accessToken`) and the X-CSRF-Token header, which state-changing
 * requests need. A new login session through `app.jwtAuth.issue`.
 */
export async function authCookies (
  app: AppWithJwtAuth, user: IssuableUser, options?: IssueOptions
): Promise<AuthCookieHeaders> {
  const api = jwtAuthOf(app, 'authCookies')
  const asked = { ...options, [COOKIE_LOGIN]: true } as IssueOptions
  const pair = await api.issue(user, asked) as TokenPair & { [COOKIE_LOGIN]?: CookieLogin }
  const login = pair[COOKIE_LOGIN]
  if (login === undefined) {
    throw new TypeError('authCookies: the app was registered without the cookies option: ' +
      'its tokens travel in the Authorization header, so use authHeaders')
  }
  const { names, accessToken } = login.cookies
  const jar: Array<[string, string]> = [[names.refresh, pair.refreshToken], [names.csrf, login.csrfToken]]
  if (accessToken) jar.unshift([names.access, pair.accessToken])
  return {
    cookie: jar.map(([name, value]) => `${name}=${value}`).join('; '),
    'x-csrf-token': login.csrfToken
  }
}
