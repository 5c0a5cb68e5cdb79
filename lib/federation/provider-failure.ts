import { OAuthProviderError, OAuthProviderUnavailableError, OAuthSignInFailedError } from '../errors.js'
import type { Client } from './configurations.js'

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
