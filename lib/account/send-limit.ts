import { createHash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { SendAccountMessage } from '../config/account.js'
import type { Counters, Locks } from '../stores/types.js'
import type { AuthUser } from '../types.js'
import { withoutSecrets } from '../users/without-secrets.js'
import type { OneTimeTokens, TokenPurpose } from './one-time-tokens.js'

/** At most `max` messages of one purpose to one account within `window` (seconds). */
export interface ResolvedSendLimit { max: number, window: number }

/** A message with a one-time link: to whom, for what state (the token is tied to it), through which route. */
export interface LinkMessage {
  purpose: TokenPurpose
  userId: string
  user: object
  /** The password hash of a reset, the address of a verification. */
  state: unknown
  route: { send: SendAccountMessage, ttl: number, perAccount: ResolvedSendLimit | null }
  /** The route's option path, for the log. */
  option: string
}

/** A message the limit lets out: say how it went, so that the limit knows whether a link is out there. */
export interface SendTicket {
  delivered (): Promise<void>
  failed (): Promise<void>
}

const UNCOUNTED: SendTicket = { delivered: async () => {}, failed: async () => {} }

/**
 * Per-account limit on the one-time-token messages the plugin asks the app to send: requests for one account,
 * from however many addresses, cannot flood its owner's mailbox (the per-IP rate limit cannot see that). Past
 * `max` within `window`, a request sends nothing while the latest link delivered is still alive, so the owner
 * always has a working one; with none alive, one more goes out per link lifetime (atomically: of concurrent
 * requests, one). The account is counted with the state its links are tied to (the password hash, the address):
 * once that changes, earlier links are dead and the count starts again. Durable entries (the latest link's end, the
 * hold) are written only past the allowance, so one request never costs the store lasting room; the hold survives
 * a flood that evicts the count. A count or entry that cannot be read or written throws: nothing is sent.
 */
export function createSendLimit (store: { counters: Counters, locks: Locks }) {
  async function holdWhileLinkAlive (account: string, now: number): Promise<boolean> {
    const linkUntil = await store.locks.lockedUntil(`link.${account}`)
    if (linkUntil === null || linkUntil <= now) return false
    await store.locks.lock(`hold.${account}`, linkUntil, Math.ceil((linkUntil - now) / 1000))
    return true
  }

  function recording (account: string, ttl: number, extra: boolean): SendTicket {
    return {
      delivered: async () => { await store.locks.lock(`link.${account}`, Date.now() + ttl * 1000, ttl) },
      // Nothing went out: an extra message may be tried again at once.
      failed: async () => { if (extra) await store.counters.reset(`extra.${account}`) }
    }
  }

  return {
    /** Counts the message to its account in its state; null when it must not be sent. */
    async reserve ({ purpose, userId, state, route }: LinkMessage): Promise<SendTicket | null> {
      const { perAccount: limit, ttl } = route
      if (limit === null) return UNCOUNTED
      // A digest: bounded in size whatever the id and state, and no state is stored.
      const account = `${purpose}.${createHash('sha256').update(`${userId}\n${String(state)}`).digest('base64url')}`
      const now = Date.now()
      const heldUntil = await store.locks.lockedUntil(`hold.${account}`)
      if (heldUntil !== null && heldUntil > now) return null
      const sent = await store.counters.increment(`sent.${account}`, limit.window)
      if (sent < limit.max) return UNCOUNTED
      if (sent === limit.max) return recording(account, ttl, false)
      if (await holdWhileLinkAlive(account, now)) return null
      return await store.counters.increment(`extra.${account}`, ttl) === 1 ? recording(account, ttl, true) : null
    }
  }
}

export type SendLimit = ReturnType<typeof createSendLimit>

/**
 * Issues the message's one-time token and sends it through the app's mailer, then tells the ticket how it went.
 * What the mailer throws is logged (the client learns nothing of it); so is a ticket the store cannot record: the
 * message went out, and the limit still holds.
 */
export async function sendLink (
  ticket: SendTicket, message: LinkMessage, { tokens, log }: { tokens: OneTimeTokens, log: FastifyBaseLogger }
): Promise<void> {
  const { purpose, userId, user, state, route, option } = message
  const token = await tokens.issue(purpose, userId, route.ttl, state)
  let sent = false
  try {
    await route.send({ user: withoutSecrets(user) as AuthUser, token, expiresIn: route.ttl })
    sent = true
  } catch (error) {
    log.error({ err: error, userId }, `fastify-jwt-auth: ${option}.send failed`)
  }
  try {
    await (sent ? ticket.delivered() : ticket.failed())
  } catch (error) {
    log.warn({ err: error, userId }, `fastify-jwt-auth: ${option}.perAccount not recorded`)
  }
}
