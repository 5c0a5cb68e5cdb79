import type { ResolvedOptions } from '../config/options.js'
import type { ResolvedStore } from '../stores/resolve.js'
import type { SessionInfo, SessionMetadata } from '../types.js'
import type { Revocation } from './revocation.js'

/** What the session index keeps of a login session. */
export interface SessionRecord {
  createdAt: number
  lastRefreshedAt: number
  expiresAt: number
  ip?: string
  userAgent?: string
  /** The session's latest refresh token: what a reauthentication spends. Absent from sessions of earlier versions. */
  head?: Head
}

/** A session's latest refresh token: its id (`jti`) and its place in the family (`gen`). */
export interface Head { jti: string, generation: number }

// Request details are stored as given, but bounded.
const clip = (value: unknown): string | undefined => typeof value === 'string' ? value.slice(0, 256) : undefined

function infoOf (familyId: string, session: SessionRecord): SessionInfo {
  return {
    familyId,
    createdAt: new Date(session.createdAt).toISOString(),
    lastRefreshedAt: new Date(session.lastRefreshedAt).toISOString(),
    expiresAt: new Date(session.expiresAt).toISOString(),
    ...(session.ip === undefined ? {} : { ip: session.ip }),
    ...(session.userAgent === undefined ? {} : { userAgent: session.userAgent })
  }
}

/**
 * The per-user index of login sessions (the store's sessions port): it lists the live ones (no keyspace scan), and
 * each can be ended on its own. `ttl`: how long an entry outlives its last refresh.
 */
export function createSessionIndex (
  config: ResolvedOptions, store: ResolvedStore, revocation: Revocation, ttl: number
) {
  return {
    /** Records (or refreshes) a session in the user's index; `head`: its latest refresh token. */
    async record (
      sub: string, fam: string, createdAt: number, metadata: SessionMetadata | undefined, head: Head
    ): Promise<void> {
      const now = Date.now()
      const session: SessionRecord = {
        createdAt,
        lastRefreshedAt: now,
        expiresAt: now + config.refreshTtl * 1000,
        ip: clip(metadata?.ip),
        userAgent: clip(metadata?.userAgent),
        head
      }
      await store.sessions.put(sub, fam, JSON.stringify(session), ttl)
    },

    /** What the index knows of one session of the user: its start and its latest refresh token; undefined if none. */
    async current (userId: string, familyId: string): Promise<Pick<SessionRecord, 'createdAt' | 'head'> | undefined> {
      const fields = await store.sessions.list(userId)
      if (!Object.hasOwn(fields, familyId)) return undefined
      const { createdAt, head } = JSON.parse(fields[familyId]!) as SessionRecord
      return { createdAt, head }
    },

    async list (userId: string | number): Promise<SessionInfo[]> {
      const sub = String(userId)
      const fields = await store.sessions.list(sub)
      const now = Date.now()
      const families = Object.keys(fields)
      const revoked = await Promise.all(families.map((family) => store.revocations.read('family', family)))
      const live: SessionInfo[] = []
      const stale: string[] = []
      families.forEach((family, i) => {
        const session = JSON.parse(fields[family]!) as SessionRecord
        if (session.expiresAt <= now || revoked[i] !== null) stale.push(family)
        else live.push(infoOf(family, session))
      })
      // Expired and revoked families leave the index as they are found.
      await Promise.all(stale.map((family) => store.sessions.remove(sub, family)))
      return live.sort((a, b) => b.lastRefreshedAt.localeCompare(a.lastRefreshedAt))
    },

    async end (userId: string | number, familyId: string): Promise<boolean> {
      const sub = String(userId)
      const fields = await store.sessions.list(sub)
      if (typeof familyId !== 'string' || !Object.hasOwn(fields, familyId)) return false
      await revocation.revokeFamily(familyId, sub)
      return true
    }
  }
}

export type SessionIndex = ReturnType<typeof createSessionIndex>
