import { randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { InvalidCredentialsError } from '../errors.js'
import type { JwtAuthUsers } from '../config/options.js'
import type { IssuableUser, PasswordHasher } from '../types.js'

type LoginUser = IssuableUser & { passwordHash?: unknown }

/**
 * Checks a username and password. An unknown user and a wrong password give
 * the same error and take the same time: an unknown user's password is checked
 * against a dummy hash made with the same parameters.
 */
export function createCredentialCheck (users: JwtAuthUsers, passwords: PasswordHasher, log: FastifyBaseLogger) {
  let dummyHash: Promise<string> | undefined
  const getDummyHash = (): Promise<string> => (dummyHash ??= passwords.hashPassword(randomBytes(32).toString('base64')))

  return {
    /** Makes the dummy hash ahead of the first login, so that login is not slower. */
    prepare: getDummyHash,

    async check (username: string, password: string): Promise<LoginUser> {
      const user = await users.findByLogin!(username) as LoginUser | null | undefined
      const storedHash = typeof user?.passwordHash === 'string' ? user.passwordHash : undefined
      const matches = await passwords.verifyPassword(storedHash ?? await getDummyHash(), password)
      if (user === null || user === undefined || storedHash === undefined || !matches) {
        throw new InvalidCredentialsError()
      }
      if (users.updatePasswordHash !== undefined && passwords.needsRehash(storedHash)) {
        // An upgrade that fails must not fail the login: log it and go on.
        try {
          await users.updatePasswordHash(String(user.id), await passwords.hashPassword(password))
        } catch (error) {
          log.warn({ err: error }, 'fastify-jwt-auth: could not store the rehashed password')
        }
      }
      return user
    }
  }
}

export type CredentialCheck = ReturnType<typeof createCredentialCheck>
