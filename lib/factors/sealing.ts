import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import type { ResolvedMfa } from '../config/mfa.js'

/** What a sealed secret opens to, and whether it was sealed under the first key (else: seal it again). */
export interface Opened { plaintext: string, current: boolean }

// One purpose per derived key: the same encryptionKey never encrypts and hashes with the same bytes.
const derive = (key: Buffer, purpose: string): Buffer =>
  Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `fastify-jwt-auth mfa ${purpose}`, 32))

const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16

/**
 * Secrets at rest under `mfa.encryptionKey`: what a leaked users table holds is of no use without the key.
 * - A TOTP secret is sealed with AES-256-GCM: `v1.<key id>.<iv>.<ciphertext and tag>`, the user's id as associated
 *   data (a sealed secret copied to another user's row does not open). Any listed key opens what carries its id.
 * - A recovery code is kept as `<key id>.<HMAC-SHA-256 of user id and code>`. A fast hash suffices: the codes are
 *   random (50 bits each), not chosen by people; the key makes even that out of reach offline, and the user id
 *   makes a code good for its user only. A code is checked under the key it was hashed with.
 * Both keys are derived from each encryptionKey (HKDF-SHA-256), so the given bytes serve any length of key.
 */
export function createSealing (keys: ResolvedMfa['keys']) {
  const derived = new Map(keys.map(({ id, key }) => [id, { cipher: derive(key, 'totp'), mac: derive(key, 'code') }]))
  const first = keys[0]!.id
  const aad = (userId: string): Buffer => Buffer.from(`totp\0${userId}`)
  const mac = (id: string, userId: string, code: string): string =>
    createHmac('sha256', derived.get(id)!.mac).update(`${userId}\0${code}`).digest('base64url')

  return {
    seal (userId: string, plaintext: string): string {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', derived.get(first)!.cipher, iv)
      cipher.setAAD(aad(userId))
      const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
      return [VERSION, first, iv.toString('base64url'), sealed.toString('base64url')].join('.')
    },

    /** The plaintext, or null: not sealed by this plugin, under a key no longer listed, or altered. */
    open (userId: string, sealed: unknown): Opened | null {
      if (typeof sealed !== 'string') return null
      const [version, id, iv, body, ...rest] = sealed.split('.')
      const key = derived.get(id!)?.cipher
      if (version !== VERSION || key === undefined || rest.length > 0) return null
      const ivBytes = Buffer.from(iv ?? '', 'base64url')
      const bytes = Buffer.from(body ?? '', 'base64url')
      if (ivBytes.length !== IV_BYTES || bytes.length <= TAG_BYTES) return null
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, ivBytes, { authTagLength: TAG_BYTES })
        decipher.setAAD(aad(userId))
        decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
        const plaintext = Buffer.concat([
          decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()
        ])
        return { plaintext: plaintext.toString('utf8'), current: id === first }
      } catch {
        return null
      }
    },

    /** A new recovery code as stored: hashed under the first key. */
    hashCode: (userId: string, code: string): string => `${first}.${mac(first, userId, code)}`,

    /** Which of the stored hashes is `code`'s (checked under the key of each), or undefined. */
    findCode (userId: string, code: string, stored: readonly unknown[]): string | undefined {
      const byKey = new Map<string, Buffer>()
      return stored.find((hash) => {
        if (typeof hash !== 'string') return false
        const dot = hash.indexOf('.')
        const id = hash.slice(0, dot)
        if (dot < 0 || !derived.has(id)) return false
        if (!byKey.has(id)) byKey.set(id, Buffer.from(mac(id, userId, code)))
        const expected = byKey.get(id)!
        const actual = Buffer.from(hash.slice(dot + 1))
        return actual.length === expected.length && timingSafeEqual(actual, expected)
      }) as string | undefined
    }
  }
}

export type Sealing = ReturnType<typeof createSealing>
