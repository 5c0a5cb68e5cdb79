// JSON schemas of the passkey routes: the WebAuthn JSON of @simplewebauthn/browser (startRegistration and
// startAuthentication), each binary field base64url and bounded, so that a malformed one is a 400 before any
// parsing; the body limit bounds the whole.

const base64url = (maxLength: number, description: string) =>
  ({ type: 'string', minLength: 1, maxLength, pattern: '^[A-Za-z0-9_-]+={0,2}$', description }) as const

// A credential id: up to 1023 bytes in WebAuthn.
const credentialId = base64url(1400, 'The credential id')

const credentialFields = {
  id: credentialId,
  rawId: credentialId,
  type: { type: 'string', enum: ['public-key'] },
  authenticatorAttachment: { type: 'string', maxLength: 32 },
  clientExtensionResults: { type: 'object' }
} as const

/** What navigator.credentials.create() gave, as JSON. */
export const registrationResponse = {
  type: 'object',
  required: ['id', 'rawId', 'type', 'response'],
  properties: {
    ...credentialFields,
    response: {
      type: 'object',
      required: ['clientDataJSON', 'attestationObject'],
      properties: {
        clientDataJSON: base64url(4096, 'The client data, as the browser signed it'),
        attestationObject: base64url(8192, 'The attestation (CBOR)'),
        transports: { type: 'array', maxItems: 8, items: { type: 'string', maxLength: 32 } }
      }
    }
  }
} as const

/** What navigator.credentials.get() gave, as JSON. */
export const authenticationResponse = {
  type: 'object',
  required: ['id', 'rawId', 'type', 'response'],
  properties: {
    ...credentialFields,
    response: {
      type: 'object',
      required: ['clientDataJSON', 'authenticatorData', 'signature'],
      properties: {
        clientDataJSON: base64url(4096, 'The client data, as the browser signed it'),
        authenticatorData: base64url(4096, 'The authenticator data'),
        signature: base64url(1024, 'The signature'),
        userHandle: base64url(128, 'The account\'s passkey handle (discoverable credentials)')
      }
    }
  }
} as const

const NAME = '^[^\\u0000-\\u001f\\u007f]*\\S[^\\u0000-\\u001f\\u007f]*$'

export const registerVerifyBody = {
  type: 'object',
  required: ['response'],
  additionalProperties: false,
  properties: {
    response: registrationResponse,
    name: { type: 'string', minLength: 1, maxLength: 64, pattern: NAME, description: 'The user\'s name for it' }
  }
} as const

export const loginOptionsBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    login: {
      type: 'string',
      minLength: 1,
      maxLength: 256,
      description: 'The username: its passkeys are allowed; without it, any discoverable passkey (conditional UI)'
    }
  }
} as const

export const loginVerifyBody = {
  type: 'object',
  required: ['response'],
  additionalProperties: false,
  properties: { response: authenticationResponse }
} as const

export const creationOptions = {
  type: 'object',
  additionalProperties: true,
  description: 'PublicKeyCredentialCreationOptionsJSON: for startRegistration({ optionsJSON }) of ' +
    '@simplewebauthn/browser',
  properties: { challenge: { type: 'string' } }
} as const

export const requestOptions = {
  type: 'object',
  additionalProperties: true,
  description: 'PublicKeyCredentialRequestOptionsJSON: for startAuthentication({ optionsJSON }) of ' +
    '@simplewebauthn/browser',
  properties: { challenge: { type: 'string' } }
} as const

export const passkeyView = {
  type: 'object',
  required: ['id', 'name', 'createdAt'],
  properties: {
    id: { type: 'string', description: 'The credential id' },
    name: { type: 'string' },
    transports: { type: 'array', items: { type: 'string' } },
    backedUp: { type: 'boolean', description: 'Synced by its provider' },
    createdAt: { type: 'string' },
    lastUsedAt: { type: 'string', nullable: true }
  }
} as const

export const passkeyList = {
  type: 'object',
  properties: { passkeys: { type: 'array', items: passkeyView } }
} as const

export const passkeyParams = {
  type: 'object',
  required: ['id'],
  properties: { id: credentialId }
} as const

export const registeredPasskey = {
  type: 'object',
  required: ['id', 'name', 'createdAt'],
  properties: { id: { type: 'string' }, name: { type: 'string' }, createdAt: { type: 'string' } }
} as const
