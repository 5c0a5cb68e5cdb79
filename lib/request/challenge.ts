import type { FastifyError, FastifyReply } from 'fastify'

// RFC 6750 section 3: which error attribute each failure puts in the
// WWW-Authenticate challenge. A missing token gets a bare challenge (no error
// attribute); codes absent from this table (503, option errors) get no header.
const BEARER_ERRORS: Record<string, string | null> = {
  FST_JWT_AUTH_NO_TOKEN: null,
  FST_JWT_AUTH_INVALID_REQUEST: 'invalid_request',
  FST_JWT_AUTH_INVALID_TOKEN: 'invalid_token',
  FST_JWT_AUTH_TOKEN_EXPIRED: 'invalid_token',
  FST_JWT_AUTH_TOKEN_NOT_ACTIVE: 'invalid_token',
  FST_JWT_AUTH_WRONG_TOKEN_TYPE: 'invalid_token',
  FST_JWT_AUTH_TOKEN_REVOKED: 'invalid_token',
  FST_JWT_AUTH_REFRESH_TOKEN_REUSED: 'invalid_token',
  FST_JWT_AUTH_REFRESH_TOKEN_UNKNOWN: 'invalid_token',
  FST_JWT_AUTH_USER_NOT_FOUND: 'invalid_token',
  // RFC 9470 section 3: a 401 as well, the client authenticates again.
  FST_JWT_AUTH_INSUFFICIENT_USER_AUTHENTICATION: 'insufficient_user_authentication',
  FST_JWT_AUTH_FORBIDDEN: 'insufficient_scope',
  FST_JWT_AUTH_INSUFFICIENT_SCOPE: 'insufficient_scope',
  FST_JWT_AUTH_MFA_SETUP_REQUIRED: 'insufficient_scope'
}

// quoted-string content allowed by RFC 6750 for error_description and scope
const UNSAFE_QUOTED = /[^\x20\x21\x23-\x5B\x5D-\x7E]/g

function quote (value: string): string {
  return `"${value.replace(UNSAFE_QUOTED, '')}"`
}

/**
 * What a step-up challenge asks for (RFC 9470 section 3): an authentication within `maxAge` seconds, at one of the
 * levels of `acrValues` (space-separated, in order of preference).
 */
export interface StepUp {
  maxAge?: number | undefined
  acrValues?: string | undefined
}

/** The WWW-Authenticate value for an auth error, or undefined when it gets none. */
export function bearerChallenge (
  realm: string,
  error: { code: string, message: string } & StepUp,
  scope?: string
): string | undefined {
  const bearerError = BEARER_ERRORS[error.code]
  if (bearerError === undefined) return undefined
  let challenge = `Bearer realm=${quote(realm)}`
  if (bearerError === null) return challenge
  challenge += `, error="${bearerError}"`
  if (bearerError === 'insufficient_scope') {
    if (scope !== undefined) challenge += `, scope=${quote(scope)}`
    return challenge
  }
  challenge += `, error_description=${quote(error.message)}`
  if (bearerError !== 'insufficient_user_authentication') return challenge
  // Whole seconds only: nothing else reaches the header.
  if (Number.isSafeInteger(error.maxAge) && error.maxAge! >= 0) challenge += `, max_age="${error.maxAge!}"`
  if (error.acrValues !== undefined) challenge += `, acr_values=${quote(error.acrValues)}`
  return challenge
}

/**
 * Puts the RFC 6750 challenge on the error as `headers`, which Fastify's error
 * handling copies onto the reply (also when the app has its own error handler).
 */
export function withChallenge<E extends Error> (error: E, realm: string, scope?: string): E {
  const code = (error as Partial<FastifyError>).code
  if (typeof code === 'string') {
    const { maxAge, acrValues } = error as StepUp
    const challenge = bearerChallenge(realm, { code, message: error.message, maxAge, acrValues }, scope)
    if (challenge !== undefined) {
      (error as E & { headers?: Record<string, string> }).headers = { 'www-authenticate': challenge }
    }
  }
  return error
}

/**
 * For hooks: the challenge also goes straight onto the reply, so it survives
 * an app error handler that builds its own answer.
 */
export function challengeReply<E extends Error> (reply: FastifyReply, error: E, realm: string, scope?: string): E {
  const challenged = withChallenge(error, realm, scope) as E & { headers?: Record<string, string> }
  if (challenged.headers !== undefined) reply.headers(challenged.headers)
  return challenged
}
