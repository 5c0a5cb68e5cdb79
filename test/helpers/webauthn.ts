// A software authenticator for the passkey tests without a browser: an ES256 key pair per credential (node:crypto),
// authenticator data, a 'none' attestation in CBOR and the client data, built here byte by byte, as a browser and
// its authenticator give them. Each part can be forged (`Forge`) for the hostile ceremonies.
import { Buffer } from 'node:buffer'
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'

type Cbor = number | string | Buffer | Cbor[] | Map<Cbor, Cbor> | { [key: string]: Cbor }

function head (major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length])
  if (length < 256) return Buffer.from([(major << 5) | 24, length])
  if (length < 65_536) return Buffer.from([(major << 5) | 25, length >> 8, length & 255])
  const bytes = Buffer.alloc(5)
  bytes[0] = (major << 5) | 26
  bytes.writeUInt32BE(length, 1)
  return bytes
}

/** CBOR (RFC 8949) of the few types WebAuthn uses: integers, byte and text strings, arrays, maps. */
export function cbor (value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value)
  if (typeof value === 'string') return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)])
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value])
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)])
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value)
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([key, item]) => [cbor(key), cbor(item)])])
}

const sha256 = (data: Buffer | string): Buffer => createHash('sha256').update(data).digest()
const b64 = (data: Buffer): string => data.toString('base64url')

export const FLAGS = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 }

export interface Credential {
  id: Buffer
  privateKey: KeyObject
  publicKey: KeyObject
  /** The handle of the account, as the creation options gave it (base64url). */
  userHandle: string
  counter: number
}

/** What a hostile test changes of a ceremony's response. */
export interface Forge {
  origin?: string
  /** The rpID whose hash goes into the authenticator data. */
  rpID?: string
  type?: string
  challenge?: string
  /** The flags byte (default UP | UV | BE | BS, and AT on registration). */
  flags?: number
  /** The counter the authenticator says (default: one more than the last, or 0 for a synced passkey). */
  counter?: number
  /** Another credential's key signs (a credential id it does not own). */
  credential?: Credential
  /** The user handle sent (default the credential's). */
  userHandle?: string | null
  /** The attestation object, raw (malformed CBOR). */
  attestationObject?: Buffer
}

export interface SoftAuthenticatorOptions {
  rpID: string
  origin: string
  /** A synced passkey: its counter stays 0. Default false: it counts up from 1. */
  synced?: boolean
}

/** One authenticator: the credentials it made, and the ceremonies' responses. */
export class SoftAuthenticator {
  readonly credentials: Credential[] = []
  constructor (readonly options: SoftAuthenticatorOptions) {}

  private clientData (type: string, challenge: string, forge: Forge): Buffer {
    return Buffer.from(JSON.stringify({
      type: forge.type ?? type,
      challenge: forge.challenge ?? challenge,
      origin: forge.origin ?? this.options.origin,
      crossOrigin: false
    }))
  }

  private counterOf (credential: Credential, forge: Forge): number {
    if (forge.counter !== undefined) return forge.counter
    return this.options.synced === true ? 0 : credential.counter + 1
  }

  /** The answer to creation options (JSON, as the routes give them): a new credential for their user. */
  register (options: { challenge: string, user: { id: string } }, forge: Forge & { idLength?: number } = {}) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const credential: Credential = {
      id: randomBytes(forge.idLength ?? 16), privateKey, publicKey, userHandle: options.user.id, counter: 0
    }
    const jwk = publicKey.export({ format: 'jwk' })
    const cose = cbor(new Map<Cbor, Cbor>([
      [1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]
    ]))
    const counter = Buffer.alloc(4)
    const idLength = Buffer.alloc(2)
    idLength.writeUInt16BE(credential.id.length)
    const attested = Buffer.concat([Buffer.alloc(16), idLength, credential.id, cose])
    const flags = forge.flags ?? (FLAGS.UP | FLAGS.UV | FLAGS.BE | FLAGS.BS | FLAGS.AT)
    const authData = Buffer.concat([sha256(forge.rpID ?? this.options.rpID), Buffer.from([flags]), counter, attested])
    const attestationObject = forge.attestationObject ?? cbor({ fmt: 'none', attStmt: {}, authData })
    this.credentials.push(credential)
    return {
      id: b64(credential.id),
      rawId: b64(credential.id),
      type: 'public-key',
      response: {
        clientDataJSON: b64(this.clientData('webauthn.create', options.challenge, forge)),
        attestationObject: b64(attestationObject),
        transports: ['internal', 'hybrid']
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform'
    }
  }

  /** The answer to request options (JSON): an assertion by `credential` (default the last one made). */
  login (options: { challenge: string }, credential = this.credentials.at(-1)!, forge: Forge = {}) {
    const signer = forge.credential ?? credential
    const counter = this.counterOf(credential, forge)
    const counterBytes = Buffer.alloc(4)
    counterBytes.writeUInt32BE(counter)
    const flags = forge.flags ?? (FLAGS.UP | FLAGS.UV | FLAGS.BE | FLAGS.BS)
    const authData = Buffer.concat([sha256(forge.rpID ?? this.options.rpID), Buffer.from([flags]), counterBytes])
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, forge)
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), signer.privateKey)
    if (forge.counter === undefined) credential.counter = counter
    const userHandle = forge.userHandle === undefined ? credential.userHandle : forge.userHandle
    return {
      id: b64(credential.id),
      rawId: b64(credential.id),
      type: 'public-key',
      response: {
        clientDataJSON: b64(clientDataJSON),
        authenticatorData: b64(authData),
        signature: b64(signature),
        ...(userHandle === null ? {} : { userHandle })
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform'
    }
  }
}
