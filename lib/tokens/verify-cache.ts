interface Entry<Claims> { token: string, claims: Claims, expiresAt: number }

// The map is keyed by the token's last characters (its signature): hashing a
// whole token of a request (a fresh string, hashed anew each time) costs ~0.6 µs,
// its last 16 characters (96 bits of the signature) a small part of that. The entry keeps the whole token and a
// hit needs the exact string, so two tokens never share an entry; a token that
// ends like another only displaces it.
const KEY_LENGTH = 16

/**
 * Verified access tokens, matched on the exact token string, kept until their
 * own expiry at the latest, at most `max` of them. A hit skips the signature
 * check; revocation is still checked on every request.
 *
 * Two generations of max/2 entries: when the current one is full it becomes
 * the previous one and the oldest is dropped whole. Deleting the first key of
 * a full Map on every miss costs microseconds (iteration walks the deleted
 * slots); dropping a generation costs nothing per request.
 */
export function createVerifyCache<Claims extends { exp: number }> (max: number, toleranceMs: number) {
  if (max === 0) {
    return { get: (token: string): Claims | undefined => undefined, set (token: string, claims: Claims): void {} }
  }
  const generation = Math.max(1, Math.floor(max / 2))
  let current = new Map<string, Entry<Claims>>()
  let previous = new Map<string, Entry<Claims>>()
  const keyOf = (token: string): string => token.length > KEY_LENGTH ? token.slice(-KEY_LENGTH) : token

  function insert (key: string, entry: Entry<Claims>): void {
    if (current.size >= generation) {
      previous = current
      current = new Map()
    }
    current.set(key, entry)
  }

  return {
    get (token: string): Claims | undefined {
      const key = keyOf(token)
      let entry = current.get(key)
      if (entry === undefined) {
        entry = previous.get(key)
        if (entry === undefined || entry.token !== token) return undefined
        insert(key, entry) // still in use: keep it in the newer generation
      } else if (entry.token !== token) {
        return undefined
      }
      if (Date.now() <= entry.expiresAt) return { ...entry.claims } // a copy: callers may change theirs
      current.delete(key)
      previous.delete(key)
      return undefined
    },
    set (token: string, claims: Claims): void {
      insert(keyOf(token), { token, claims: { ...claims }, expiresAt: claims.exp * 1000 + toleranceMs })
    }
  }
}
