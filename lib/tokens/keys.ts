import { createPrivateKey, createPublicKey, KeyObject, sign, verify } from 'node:crypto'
import { InvalidOptionError } from '../errors.js'
import { keyMisfit } from './key-fit.js'

export type AsymmetricAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA'

/**
 * A JSON Web Key (RFC 7517, RFC 7518) as an object, such as `keyObject.export({ format: 'jwk' })` returns.
 * Declared here, not taken from node:crypto, whose JsonWebKey is not in every @types/node (26 has none). A type,
 * not an interface, so that node:crypto's functions take it whatever their own JsonWebKey is.
 */
export type Jwk = {
  kty?: string | undefined
  use?: string | undefined
  key_ops?: string[] | undefined
  alg?: string | undefined
  kid?: string | undefined
  x5u?: string | undefined
  x5c?: string[] | undefined
  x5t?: string | undefined
  'x5t#S256'?: string | undefined
  crv?: string | undefined
  x?: string | undefined
  y?: string | undefined
  d?: string | undefined
  n?: string | undefined
  e?: string | undefined
  p?: string | undefined
  q?: string | undefined
  dp?: string | undefined
  dq?: string | undefined
  qi?: string | undefined
  oth?: Array<{ r?: string | undefined, d?: string | undefined, t?: string | undefined }> | undefined
  k?: string | undefined
  ext?: boolean | undefined
}

/** A key as PEM (string or Buffer), JWK object, or KeyObject. */
export type KeyInput = string | Buffer | Jwk | KeyObject

export interface SigningKey {
  /** Key id, put in the header of the tokens it signs and in the JWKS. */
  kid: string
  /** The one algorithm this key signs and verifies with. */
  algorithm: AsymmetricAlgorithm
  /** Needed on the first key (it signs); optional on keys kept only to verify. */
  privateKey?: KeyInput
  /** Derived from the private key when omitted. */
  publicKey?: KeyInput
}

/** A validated key, as fast-jwt takes it (PEM), with its public JWK. */
export interface ResolvedKey {
  kid: string
  algorithm: AsymmetricAlgorithm
  privatePem: string | undefined
  publicPem: string
  /** The public key only: what the JWKS serves. */
  jwk: Record<string, unknown>
}

// The algorithms of the plugin's own keys, with the digest that probes a key pair.
const DIGEST: Record<AsymmetricAlgorithm, string | null> = {
  RS256: 'sha256',
  PS256: 'sha256',
  ES256: 'sha256',
  ES384: 'sha384',
  EdDSA: null
}
/** A key id as it may go in a header and a JWKS: printable, without quotes or backslashes. */
export const SAFE_KID = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/

function fail (message: string): never {
  throw new InvalidOptionError(message)
}

function toKeyObject (input: KeyInput, kind: 'private' | 'public', option: string): KeyObject {
  try {
    if (input instanceof KeyObject) {
      if (input.type === 'secret' || (kind === 'private' && input.type !== 'private')) {
        fail(`${option} must be a ${kind} key`)
      }
      // A private KeyObject given as publicKey stands for its public half.
      return kind === 'public' && input.type === 'private' ? createPublicKey(input) : input
    }
    const source = typeof input === 'string' || Buffer.isBuffer(input) ? input : { key: input, format: 'jwk' as const }
    return kind === 'private' ? createPrivateKey(source) : createPublicKey(source)
  } catch (error) {
    if (error instanceof InvalidOptionError) throw error
    return fail(`${option} is not a valid ${kind} key (PEM, JWK or KeyObject): ${(error as Error).message}`)
  }
}

function resolveKey (key: SigningKey, index: number): ResolvedKey {
  const option = `keys[${index}]`
  if (key === null || typeof key !== 'object') fail(`${option} must be { kid, algorithm, privateKey, publicKey }`)
  if (typeof key.kid !== 'string' || !SAFE_KID.test(key.kid)) {
    fail(`${option}.kid must be 1 to 128 printable characters without quotes or backslashes`)
  }
  if (!Object.hasOwn(DIGEST, key.algorithm)) {
    fail(`${option}.algorithm must be one of ${Object.keys(DIGEST).join(', ')} (got ${String(key.algorithm)})`)
  }
  if (key.privateKey === undefined && key.publicKey === undefined) fail(`${option} needs a privateKey or a publicKey`)
  const privateKey = key.privateKey === undefined
    ? undefined
    : toKeyObject(key.privateKey, 'private', `${option}.privateKey`)
  const publicKey = toKeyObject(
    key.publicKey ?? privateKey!,
    'public',
    `${option}.${key.publicKey === undefined ? 'privateKey' : 'publicKey'}`
  )
  const misfit = keyMisfit(key.algorithm, publicKey)
  if (misfit !== undefined) fail(`${option} is ${misfit}`)
  if (privateKey !== undefined && key.publicKey !== undefined) {
    // The pair must match: a probe signed by one verifies with the other.
    const probe = Buffer.from('fastify-jwt-auth key check')
    if (!verify(DIGEST[key.algorithm], probe, publicKey, sign(DIGEST[key.algorithm], probe, privateKey))) {
      fail(`${option}.publicKey does not match its privateKey`)
    }
  }
  return {
    kid: key.kid,
    algorithm: key.algorithm,
    privatePem: privateKey?.export({ type: 'pkcs8', format: 'pem' }) as string | undefined,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    jwk: publicKey.export({ format: 'jwk' }) as Record<string, unknown>
  }
}

/** Validates the `keys` option: the first key signs, every key verifies with its own algorithm. */
export function resolveKeys (keys: unknown): ResolvedKey[] {
  if (!Array.isArray(keys) || keys.length === 0) {
    fail('keys must be a non-empty array of { kid, algorithm, privateKey, publicKey }')
  }
  const resolved = keys.map((key, index) => resolveKey(key as SigningKey, index))
  if (resolved[0]!.privatePem === undefined) fail('keys[0] signs the tokens: it needs a privateKey')
  const kids = new Set(resolved.map((key) => key.kid))
  if (kids.size !== resolved.length) fail('keys: every kid must be unique')
  return resolved
}

/** The JSON Web Key Set of the public keys (RFC 7517): never a private part. */
export function toJwks (keys: ResolvedKey[]): { keys: Array<Record<string, unknown>> } {
  return { keys: keys.map(({ kid, algorithm, jwk }) => ({ ...jwk, kid, alg: algorithm, use: 'sig' })) }
}
