import { hash, parseOptions, verify, type Algorithm, type Version } from '@node-rs/argon2'
import type { PasswordHasher } from '../types.js'

export interface PasswordOptions {
  /** KiB of memory per hash; at least 19456 (OWASP). */
  memoryCost?: number
  /** Passes over memory; at least 2 (OWASP). */
  timeCost?: number
  /** Lanes; at least 1. */
  parallelism?: number
}

/** OWASP Password Storage Cheat Sheet's argon2id baseline; also the minimum accepted. */
export const OWASP_ARGON2ID: Readonly<Required<PasswordOptions>> = Object.freeze({
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1
})

// @node-rs/argon2 declares these as const enums, which isolated modules cannot
// read; the values are fixed by its ABI.
const ARGON2ID = 2 as Algorithm
const ARGON2_VERSION_13 = 1 as Version

/** argon2id hashing with explicit parameters (the library's own defaults are not relied on). */
export function createPasswordHasher (options: Required<PasswordOptions> = OWASP_ARGON2ID): PasswordHasher {
  const params = { ...options, algorithm: ARGON2ID, version: ARGON2_VERSION_13 }
  return {
    // @node-rs/argon2 runs on the libuv thread pool: the event loop never waits on a hash.
    async hashPassword (plain: string): Promise<string> {
      if (typeof plain !== 'string' || plain.length === 0) {
        throw new TypeError('hashPassword: the password must be a non-empty string')
      }
      return hash(plain, params)
    },
    async verifyPassword (hashed: string, plain: string): Promise<boolean> {
      if (typeof hashed !== 'string' || typeof plain !== 'string') return false
      try {
        return await verify(hashed, plain)
      } catch {
        // A malformed or unsupported hash never matches.
        return false
      }
    },
    needsRehash (hashed: string): boolean {
      let stored
      try {
        stored = parseOptions(hashed)
      } catch {
        return true
      }
      return stored.algorithm !== ARGON2ID ||
        stored.version !== ARGON2_VERSION_13 ||
        stored.memoryCost < options.memoryCost ||
        stored.timeCost < options.timeCost ||
        stored.parallelism < options.parallelism
    }
  }
}

const defaultHasher = createPasswordHasher()

/** argon2id hash with OWASP parameters (m=19456 KiB, t=2, p=1). */
export const hashPassword = defaultHasher.hashPassword
/** Checks a password against an argon2 hash; false on mismatch or a malformed hash. */
export const verifyPassword = defaultHasher.verifyPassword
/** True when a hash is not argon2id with at least the OWASP parameters. */
export const needsRehash = defaultHasher.needsRehash
