import type { KeyObject } from 'node:crypto'

/** The asymmetric JWS algorithms (RFC 7518 section 3, RFC 8037). */
export type PublicKeyAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA'

// RSA of at least 2048 bits (RFC 7518 section 3.3) and an ordinary public exponent (65537 in practice): a huge
// exponent would make every verification, forged signatures included, slow.
const MAX_RSA_EXPONENT = 2n ** 32n
const isRsa = (key: KeyObject): boolean => key.asymmetricKeyType === 'rsa' &&
  key.asymmetricKeyDetails!.modulusLength! >= 2048 && key.asymmetricKeyDetails!.publicExponent! <= MAX_RSA_EXPONENT
const onCurve = (curve: string) => (key: KeyObject): boolean =>
  key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails!.namedCurve === curve

// PS* take a plain RSA key: fast-jwt cannot read RSASSA-PSS-only (rsa-pss) keys.
const FITS: Record<PublicKeyAlgorithm, (key: KeyObject) => boolean> = {
  RS256: isRsa,
  RS384: isRsa,
  RS512: isRsa,
  PS256: isRsa,
  PS384: isRsa,
  PS512: isRsa,
  ES256: onCurve('prime256v1'),
  ES384: onCurve('secp384r1'),
  ES512: onCurve('secp521r1'),
  EdDSA: (key) => key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448'
}

export const PUBLIC_KEY_ALGORITHMS = Object.keys(FITS) as PublicKeyAlgorithm[]

/** Whether `key` (public or private) is one `algorithm` can use, strong enough. */
export function keyFits (algorithm: PublicKeyAlgorithm, key: KeyObject): boolean {
  return FITS[algorithm](key)
}
