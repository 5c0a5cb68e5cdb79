import type { FastifySchema } from 'fastify'
import { MAX_PASSWORD_LENGTH } from '../config/routes.js'
import { authenticationResponse } from './passkey-schemas.js'

// JSON schemas of the auth routes: Fastify validates the input and serializes
// the output with them, and @fastify/swagger documents them.

const errorBody = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' }
  }
} as const

export const errorResponses = (...statuses: number[]): Record<number, typeof errorBody> =>
  Object.fromEntries(statuses.map((status) => [status, errorBody]))

export const tokenPair = {
  type: 'object',
  required: ['token_type', 'expires_in'],
  description:
    'With cookies on, the refresh token (and the access token when it is in a cookie) is only in HttpOnly cookies',
  properties: {
    access_token: { type: 'string' },
    refresh_token: { type: 'string' },
    token_type: { type: 'string', enum: ['Bearer'] },
    expires_in: { type: 'integer', description: 'Seconds until the access token expires' },
    csrf_token: {
      type: 'string',
      description: 'With cookies on: send it back in the X-CSRF-Token header of state-changing requests'
    }
  }
} as const

const credentials = {
  username: { type: 'string', minLength: 1, maxLength: 256 },
  password: { type: 'string', minLength: 1, maxLength: MAX_PASSWORD_LENGTH }
} as const

const captchaFields = {
  captchaId: { type: 'string', maxLength: 64, description: 'From GET /captcha; required when captcha is on' },
  captcha: {
    type: 'string',
    maxLength: 32,
    description: 'The characters shown in the captcha image (case-insensitive)'
  }
} as const

export const loginBody = {
  type: 'object',
  required: ['username', 'password'],
  properties: { ...credentials, ...captchaFields }
} as const

/** The register body: credentials, captcha, and the profile fields the app declared; nothing else. */
export function registerBody (profile: Record<string, Record<string, unknown>>) {
  return {
    type: 'object',
    required: ['username', 'password'],
    additionalProperties: false,
    // The password bounds are the policy's, for a reasoned 400.
    properties: { ...profile, username: credentials.username, password: { type: 'string' }, ...captchaFields }
  } as const
}

export const swaggerLoginBody = {
  type: 'object',
  required: ['username', 'password'],
  properties: { ...credentials, grant_type: { type: 'string', enum: ['password'] } }
} as const

export const refreshBody = {
  type: 'object',
  description: 'The refresh token, unless it is sent in its cookie',
  properties: { refresh_token: { type: 'string', minLength: 1, maxLength: 8192 } }
} as const

export const captchaResponse = {
  type: 'object',
  required: ['captchaId', 'image', 'expiresIn'],
  properties: {
    captchaId: { type: 'string' },
    image: { type: 'string', description: 'SVG image as a data URL' },
    expiresIn: { type: 'integer', description: 'Seconds the captcha may be answered' }
  }
} as const

export const userResponse = {
  type: 'object',
  additionalProperties: true,
  description: 'The authenticated user, without its password hash'
} as const

/** A route schema with the OpenAPI fields @fastify/swagger reads (without depending on its types). */
export function routeSchema (
  schema: FastifySchema & { summary: string, tags: string[], consumes?: string[] }
): FastifySchema {
  return schema
}

// One-time tokens are 43 base64url characters; the bound refuses a huge body before the store is asked.
const oneTimeToken = {
  type: 'string', minLength: 1, maxLength: 128, description: 'The one-time token from the message'
} as const

export const forgotBody = {
  type: 'object',
  required: ['username'],
  properties: { username: credentials.username, ...captchaFields }
} as const

export const resetBody = {
  type: 'object',
  required: ['token', 'password'],
  // The password bounds are the policy's, for a reasoned 400.
  properties: { token: oneTimeToken, password: { type: 'string', description: 'The new password' } }
} as const

export const changeBody = {
  type: 'object',
  required: ['currentPassword', 'newPassword'],
  properties: { currentPassword: credentials.password, newPassword: { type: 'string' } }
} as const

export const reauthenticateBody = {
  type: 'object',
  description: 'The password, a one-time code of a second factor, or both',
  additionalProperties: false,
  anyOf: [{ required: ['password'] }, { required: ['code'] }],
  properties: {
    password: credentials.password,
    code: { type: 'string', minLength: 1, maxLength: 64, description: 'A one-time code (with a second factor)' }
  }
} as const

export const verifyBody = {
  type: 'object',
  required: ['token'],
  properties: { token: oneTimeToken }
} as const

export const acceptedResponse = {
  type: 'object',
  description: 'The same answer whatever happens next',
  properties: { message: { type: 'string' } }
} as const

export const verificationPending = {
  type: 'object',
  description: 'Created; the login works once the address is verified (a verification message is on its way)',
  properties: { emailVerificationRequired: { type: 'boolean' } }
} as const

// A TOTP code: digits only (6 to 8, as mfa.totp.digits); any other shape is a 400 before anything is counted.
const totpCode = {
  type: 'string', pattern: '^[0-9]{6,8}$', description: 'The code the authenticator app shows'
} as const

export const totpSetupResponse = {
  type: 'object',
  required: ['secret', 'uri', 'qr'],
  description: 'A new TOTP secret of this session, not in use until POST /mfa/totp/confirm',
  properties: {
    secret: { type: 'string', description: 'The secret in base32, for typing into an authenticator app' },
    uri: { type: 'string', description: 'The otpauth:// URI' },
    qr: { type: 'string', description: 'The URI as a QR code: an SVG data URL' }
  }
} as const

export const totpConfirmBody = {
  type: 'object',
  required: ['code'],
  additionalProperties: false,
  properties: { code: totpCode }
} as const

export const recoveryCodesResponse = {
  type: 'object',
  required: ['recoveryCodes'],
  description: 'Recovery codes, shown this once: each logs in once in place of a TOTP code',
  properties: { recoveryCodes: { type: 'array', items: { type: 'string' } } }
} as const

export const mfaChallenge = {
  type: 'object',
  required: ['mfa_required', 'mfa_token', 'methods'],
  description: 'The right password of an account with a second factor: no tokens yet; POST /mfa/verify goes on',
  properties: {
    mfa_required: { type: 'boolean', enum: [true] },
    mfa_token: { type: 'string', description: 'For POST /mfa/verify: works once, for 5 minutes' },
    methods: { type: 'array', items: { type: 'string', enum: ['totp', 'recovery_code', 'passkey'] } }
  }
} as const

/** The login's answer: a token pair, or the second step's challenge. */
export const loginResponse = { anyOf: [tokenPair, mfaChallenge] } as const

export const mfaVerifyBody = {
  type: 'object',
  required: ['mfa_token'],
  additionalProperties: false,
  // A TOTP code, a recovery code or a passkey's assertion: one of them.
  oneOf: [{ required: ['code'] }, { required: ['recovery_code'] }, { required: ['passkey'] }],
  properties: {
    mfa_token: { type: 'string', minLength: 1, maxLength: 128, description: 'From POST /login' },
    code: totpCode,
    recovery_code: {
      type: 'string',
      minLength: 10,
      maxLength: 32,
      pattern: '^[0-9A-Za-z][0-9A-Za-z -]*$',
      description: 'One of the recovery codes (each works once)'
    },
    passkey: {
      ...authenticationResponse,
      description: 'The answer to the options of POST /mfa/passkey/options (passkeys option)'
    }
  }
} as const

export const mfaPasskeyOptionsBody = {
  type: 'object',
  required: ['mfa_token'],
  additionalProperties: false,
  properties: { mfa_token: { type: 'string', minLength: 1, maxLength: 128, description: 'From POST /login' } }
} as const
