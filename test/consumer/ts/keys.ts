// Compiled only, with the app's @types/node (the consumer test switches it between majors): a key as node:crypto
// exports it, a JWK, is a signing key, whatever JsonWebKey that @types/node declares (26 declares none in
// node:crypto).
import { generateKeyPairSync } from 'node:crypto'
import type { JwtAuthOptions, SigningKey } from 'fastify-jwt-auth'

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })

export const keys: SigningKey[] = [
  { kid: 'k1', algorithm: 'ES256', privateKey: privateKey.export({ format: 'jwk' }) },
  { kid: 'k0', algorithm: 'ES256', publicKey: publicKey.export({ format: 'jwk' }) }
]

export const options: JwtAuthOptions = { keys }
