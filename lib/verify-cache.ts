interface Entry<Claims> { claims: Claims, expiresAt: number }

/**
 * Verified access tokens, keyed by the exact token string (so no two tokens
 * can share an entry), kept until their own expiry at the latest, at most
 * `max` of them. A hit skips the signature check; revocation is still checked
 * on every request.
 *
 * Two generations of max/2 entries: when the current one is full it becomes
 * the previous one and the oldest is dropped whole. Deleting the first key of
 * a full Map on every miss costs microseconds (iteration walks the deleted
 * slots); dropping a generation costs nothing per request.
 */
export function createVerifyCache<Claims extends { exp: number }> (max: number, toleranceMs: number) {
  const generation = Math.max(1, Math.floor(max / 2))
  let current = new Map<string, Entry<Claims>>()
  let previous = new Map<string, Entry<Claims>>()

  function insert (token: string, entry: Entry<Claims>): void {
    if (current.size >= generation) {
      previous = current
      current = new Map()
    }
    current.set(token, entry)
  }

  return {
    get (token: string): Claims | undefined {
      let entry = current.get(token)
      if (entry === undefined) {
        entry = previous.get(token)
        if (entry === undefined) return undefined
        insert(token, entry) // still in use: keep it in the newer generation
      }
      if (Date.now() <= entry.expiresAt) return { ...entry.claims } // a copy: callers may change theirs
      current.delete(token)
      previous.delete(token)
      return undefined
    },
    set (token: string, claims: Claims): void {
      insert(token, { claims: { ...claims }, expiresAt: claims.exp * 1000 + toleranceMs })
    }
  }
}
