import { randomInt } from 'node:crypto'
import type { Sealing } from './sealing.js'

// Crockford's base32: no I, L, O or U to misread. Ten characters, 50 bits a code, shown as xxxxx-xxxxx.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'
const LENGTH = 10

/** A code as typed, in the form it was hashed in: case, dashes and spaces do not matter, nor I/L for 1 and O for 0. */
export function normalizeCode (code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '').replace(/[il]/g, '1').replace(/o/g, '0')
}

/** Recovery codes: random, shown once, kept as keyed hashes (sealing.ts says why a fast hash is right for them). */
export function createRecoveryCodes (sealing: Sealing, count: number) {
  const one = (): string => {
    const chars = Array.from({ length: LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join('')
    return `${chars.slice(0, 5)}-${chars.slice(5)}`
  }

  return {
    /** New codes for the user: what to show, and what to store. */
    enrol (userId: string): { codes: string[], hashes: string[] } {
      const codes = Array.from({ length: count }, one)
      return { codes, hashes: codes.map((code) => sealing.hashCode(userId, normalizeCode(code))) }
    },

    /** The stored hash `code` is, if any (the users adapter then spends it, once). */
    find (userId: string, code: string, stored: readonly unknown[]): string | undefined {
      const normalized = normalizeCode(code)
      if (normalized.length !== LENGTH || [...normalized].some((char) => !ALPHABET.includes(char))) return undefined
      return sealing.findCode(userId, normalized, stored)
    }
  }
}

export type RecoveryCodes = ReturnType<typeof createRecoveryCodes>
