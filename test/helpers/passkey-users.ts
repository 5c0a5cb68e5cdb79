import type { FoundPasskey, JwtAuthUsers, StoredPasskey } from '../../lib/index.js'

export interface PasskeyTables {
  /** user id -> handle */
  handles: Map<string, string>
  /** credential id -> the passkey and its user */
  passkeys: Map<string, StoredPasskey & { userId: string }>
}

type PasskeyGroup = Required<Pick<JwtAuthUsers,
  'passkeyUserHandle' | 'listPasskeys' | 'findPasskey' | 'addPasskey' | 'updatePasskey' | 'removePasskey'>>

/**
 * The `users` passkeys group in memory, as the contract asks (copies out, one handle per user, a credential stored
 * once, conditional counter updates): `exists` says whether a user id is known.
 */
export function memoryPasskeys (
  exists: (id: string) => boolean, tables: PasskeyTables = { handles: new Map(), passkeys: new Map() }
): PasskeyGroup & { tables: PasskeyTables } {
  const copy = <T>(value: T): T => structuredClone(value)
  const strip = ({ userId, ...passkey }: StoredPasskey & { userId: string }): StoredPasskey => copy(passkey)
  return {
    tables,
    passkeyUserHandle: async (id, candidate) => {
      if (!exists(id)) return null
      if (!tables.handles.has(id)) tables.handles.set(id, candidate)
      return tables.handles.get(id)!
    },
    listPasskeys: async (id) => [...tables.passkeys.values()].filter((passkey) => passkey.userId === id).map(strip),
    findPasskey: async (credentialId) => {
      const found = tables.passkeys.get(credentialId)
      return found === undefined ? null : { ...copy(found), userHandle: tables.handles.get(found.userId)! } satisfies FoundPasskey
    },
    addPasskey: async (id, passkey) => {
      if (!exists(id) || tables.passkeys.has(passkey.id)) return false
      tables.passkeys.set(passkey.id, { ...copy(passkey), userId: id })
      return true
    },
    updatePasskey: async (credentialId, use, { previousCounter }) => {
      const found = tables.passkeys.get(credentialId)
      if (found === undefined || found.counter !== previousCounter) return false
      Object.assign(found, copy(use))
      return true
    },
    removePasskey: async (id, credentialId) => {
      const found = tables.passkeys.get(credentialId)
      if (found?.userId !== id) return false
      return tables.passkeys.delete(credentialId)
    }
  }
}
