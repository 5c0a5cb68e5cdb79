import type { KeyObject } from 'node:crypto'

/** The asymmetric JWS algorithms (RFC 7518 section 3, RFC 8037). */
export type PublicKeyAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA'

type KeyCheck = (key: KeyObject, algorithm: string) => string | undefined

/** The key is of a type or on a curve the algorithm does not take. */
const cannotUse = (key: KeyObject, algorithm: string): string => {
  const curve = key.asymmetricKeyDetails?.namedCurve
  const type = `a ${String(key.asymmetricKeyType)} key${curve === undefined ? '' : ` on ${curve}`}`
  return `${type}, which ${algorithm} cannot use`
}

// RSA of at least 2048 bits (RFC 7518 section 3.3), and an odd public exponent from 65537 to 2^32 (FIPS 186-5's
// lower bound): e = 1 would let anyone forge a signature, and a huge one makes every verification slow.
const MAX_RSA_EXPONENT = 2n ** 32n
const rsa: KeyCheck = (key, algorithm) => {
  if (key.asymmetricKeyType !== 'rsa') return cannotUse(key, algorithm)
  const details = key.asymmetricKeyDetails as { modulusLength: number, publicExponent: bigint }
  const { modulusLength, publicExponent } = details
  if (modulusLength < 2048) return `a ${modulusLength}-bit RSA key; ${algorithm} needs at least 2048 bits`
  if (publicExponent < 65537n || publicExponent > MAX_RSA_EXPONENT || publicExponent % 2n === 0n) {
    return `an RSA key with public exponent ${publicExponent}; ${algorithm} needs an odd one from 65537 to 2^32`
  }
  return undefined
}
const onCurve = (curve: string): KeyCheck => (key, algorithm) =>
  key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails!.namedCurve === curve
    ? undefined
    : cannotUse(key, algorithm)
const edwards: KeyCheck = (key, algorithm) =>
  key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448' ? undefined : cannotUse(key, algorithm)

// PS* take a plain RSA key: fast-jwt cannot read RSASSA-PSS-only (rsa-pss) keys.
const CHECKS: Record<PublicKeyAlgorithm, KeyCheck> = {
  RS256: rsa,
  RS384: rsa,
  RS512: rsa,
  PS256: rsa,
  PS384: rsa,
  PS512: rsa,
  ES256: onCurve('prime256v1'),
  ES384: onCurve('secp384r1'),
  ES512: onCurve('secp521r1'),
  EdDSA: edwards
}

export const PUBLIC_KEY_ALGORITHMS = Object.keys(CHECKS) as PublicKeyAlgorithm[]

/** Why `key` (public or private) is not one `algorithm` can use, strong enough; undefined when it is. */
export function keyMisfit (algorithm: PublicKeyAlgorithm, key: KeyObject): string | undefined {
  return CHECKS[algorithm](key, algorithm)
}
