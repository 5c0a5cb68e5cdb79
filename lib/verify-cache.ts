/**
 * Verified access tokens, keyed by the exact token string (so no two tokens
 * can share an entry), kept until their own expiry at the latest, at most
 * `max` of them (the oldest insert goes first). A hit skips the signature
 * check; revocation is still checked on every request.
 */
export function createVerifyCache<Claims extends { exp: number }> (max: number, toleranceMs: number) {
  const entries = new Map<string, { claims: Claims, expiresAt: number }>()
  return {
    get (token: string): Claims | undefined {
      const entry = entries.get(token)
      if (entry === undefined) return undefined
      if (Date.now() <= entry.expiresAt) return { ...entry.claims } // a copy: callers may change theirs
      entries.delete(token)
      return undefined
    },
    set (token: string, claims: Claims): void {
      if (entries.size >= max) entries.delete(entries.keys().next().value as string)
      entries.set(token, { claims: { ...claims }, expiresAt: claims.exp * 1000 + toleranceMs })
    }
  }
}
