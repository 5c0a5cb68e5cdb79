import type { FastifyRequest } from 'fastify'
import { InvalidRequestError, MissingTokenError } from '../errors.js'

// RFC 6750 section 2.1: credentials = "Bearer" 1*SP b64token
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/

function countAuthorizationHeaders (rawHeaders: string[]): number {
  let count = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string
    if (name.length === 13 && name.toLowerCase() === 'authorization') count++
  }
  return count
}

/**
 * The bearer token of a request's Authorization header. No header, or a header
 * of another scheme, is a missing token (401, bare challenge); a malformed
 * bearer header or more than one Authorization header is invalid_request (400).
 * The token's characters are checked by checkBearerSyntax.
 */
export function readBearerToken (request: FastifyRequest, maxLength: number): string {
  const header: unknown = request.headers.authorization
  if (header === undefined) throw new MissingTokenError()
  // Node keeps only the first of repeated Authorization headers: look at the raw list.
  if (typeof header !== 'string' || countAuthorizationHeaders(request.raw.rawHeaders) > 1) {
    throw new InvalidRequestError('Only one Authorization header is allowed')
  }
  const space = header.indexOf(' ')
  const schemeLength = space === -1 ? header.length : space
  // The scheme is case-insensitive; the usual spelling skips the lower-casing.
  if (schemeLength !== 6 || (!header.startsWith('Bearer') && header.slice(0, 6).toLowerCase() !== 'bearer')) {
    throw new MissingTokenError()
  }
  const token = space === -1 ? '' : header.slice(7).trimStart()
  if (token.length === 0) throw new InvalidRequestError('The bearer token is empty')
  if (token.length > maxLength) throw new InvalidRequestError('The bearer token is too long')
  return token
}

/**
 * The b64token syntax check of a bearer token. Separate from readBearerToken
 * because it scans the whole token: it runs when the token is not in the
 * verify cache (a cached token is the exact string that passed it before).
 */
export function checkBearerSyntax (token: string): void {
  if (!B64TOKEN.test(token)) {
    throw new InvalidRequestError('The Authorization header must be the Bearer scheme followed by one token')
  }
}
