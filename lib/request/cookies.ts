import type {} from '@fastify/cookie'
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { checkKeys, isObject } from '../config/check.js'
import { CsrfError, InvalidOptionError } from '../errors.js'

export interface CookieOptions {
  /** Also put the access token in an HttpOnly cookie, which authenticate then reads. Default false. */
  accessToken?: boolean
  /** Secure cookies with the __Host- prefix; false only for local http development. Default true. */
  secure?: boolean
  /** Default 'strict'. */
  sameSite?: 'strict' | 'lax'
}

export interface ResolvedCookies {
  accessToken: boolean
  names: { access: string, refresh: string, csrf: string }
  attributes: { path: '/', secure: boolean, sameSite: 'strict' | 'lax' }
}

export const CSRF_HEADER = 'x-csrf-token'
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** `cookies` option: false/undefined for none, true for the defaults, or an object. */
export function resolveCookies (cookies: unknown): ResolvedCookies | null {
  if (cookies === undefined || cookies === false) return null
  const options = cookies === true ? {} : cookies
  if (!isObject(options)) {
    throw new InvalidOptionError('cookies must be true, false or { accessToken, secure, sameSite }')
  }
  checkKeys(options, ['accessToken', 'secure', 'sameSite'], 'cookies')
  const { accessToken = false, secure = true, sameSite = 'strict' } = options as CookieOptions
  if (typeof accessToken !== 'boolean') throw new InvalidOptionError('cookies.accessToken must be a boolean')
  if (typeof secure !== 'boolean') throw new InvalidOptionError('cookies.secure must be a boolean')
  if (sameSite !== 'strict' && sameSite !== 'lax') {
    throw new InvalidOptionError(`cookies.sameSite must be 'strict' or 'lax' (got ${String(sameSite)})`)
  }
  // __Host- cookies are Secure, Path=/ and host-only: no other host or path can set or shadow them.
  const prefix = secure ? '__Host-' : ''
  return {
    accessToken,
    names: { access: `${prefix}access_token`, refresh: `${prefix}refresh_token`, csrf: `${prefix}csrf_token` },
    attributes: { path: '/', secure, sameSite }
  }
}

/** The CSRF proof bound into a session's tokens: they carry its hash (`csh`), the client echoes it in X-CSRF-Token. */
export function newCsrfToken (): { token: string, hash: string } {
  const token = randomBytes(32).toString('base64url')
  return { token, hash: hashCsrf(token) }
}

function hashCsrf (token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

/** Signed double-submit: the header must hash to the claim of the (verified) token. */
export function checkCsrf (request: FastifyRequest, boundHash: unknown): void {
  if (SAFE_METHODS.has(request.method)) return
  const proof = request.headers[CSRF_HEADER]
  if (typeof proof !== 'string' || typeof boundHash !== 'string') throw new CsrfError()
  const expected = Buffer.from(boundHash)
  const actual = Buffer.from(hashCsrf(proof))
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw new CsrfError()
}

export function setTokenCookies (
  reply: FastifyReply,
  cookies: ResolvedCookies,
  tokens: { accessToken: string, refreshToken: string, csrfToken: string, accessTtl: number, refreshTtl: number }
): void {
  const { names, attributes } = cookies
  reply.setCookie(names.refresh, tokens.refreshToken, { ...attributes, httpOnly: true, maxAge: tokens.refreshTtl })
  // Scripts read the CSRF token to send it back in the header; it is useless without the HttpOnly cookies.
  reply.setCookie(names.csrf, tokens.csrfToken, { ...attributes, httpOnly: false, maxAge: tokens.refreshTtl })
  if (cookies.accessToken) {
    reply.setCookie(names.access, tokens.accessToken, { ...attributes, httpOnly: true, maxAge: tokens.accessTtl })
  }
}

export function clearTokenCookies (reply: FastifyReply, { names, attributes }: ResolvedCookies): void {
  for (const name of [names.access, names.refresh, names.csrf]) reply.clearCookie(name, attributes)
}
