import type { ResolvedCookies } from '../request/cookies.js'

/**
 * An option of `issue` for the testing kit's `authCookies`: a cookie session
 * without the login route (nor argon2). `issue` then binds the session to a
 * new CSRF token, as login does, and hands back what the cookies need. A
 * registry symbol, since the kit and the app may load different builds (ESM,
 * CJS) of the package; a request body (JSON) can never carry it.
 */
export const COOKIE_LOGIN = Symbol.for('fastify-jwt-auth.cookie-login')

/** What `issue` hands back under COOKIE_LOGIN: the CSRF token, and the app's cookie names and transport. */
export interface CookieLogin {
  csrfToken: string
  cookies: ResolvedCookies
}
