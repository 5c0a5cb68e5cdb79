import { constants, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'

export type Alg = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA'

export interface KeyPair { privateKey: KeyObject, publicKey: KeyObject }

export function generate (alg: Alg): KeyPair {
  switch (alg) {
    case 'RS256':
    case 'PS256': return generateKeyPairSync('rsa', { modulusLength: 2048 })
    case 'ES256': return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    case 'ES384': return generateKeyPairSync('ec', { namedCurve: 'P-384' })
    case 'EdDSA': return generateKeyPairSync('ed25519')
  }
}

/** A JWS signature over `input`, as the algorithm defines it (JOSE encodings). */
export function signJws (alg: Alg, key: KeyObject, input: string): string {
  const data = Buffer.from(input)
  switch (alg) {
    case 'RS256': return sign('sha256', data, key).toString('base64url')
    case 'PS256': return sign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }).toString('base64url')
    case 'ES256': return sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')
    case 'ES384': return sign('sha384', data, { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')
    case 'EdDSA': return sign(null, data, key).toString('base64url')
  }
}

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

/** A token with any header and payload, signed by `key` with `alg` (or carrying the given signature). */
export function craftAsymmetric (alg: Alg, key: KeyObject, header: Record<string, unknown>, payload: Record<string, unknown>, signature?: string): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${signature ?? signJws(alg, key, input)}`
}
