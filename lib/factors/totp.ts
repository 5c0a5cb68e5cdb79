import { createHash } from 'node:crypto'
import type { ResolvedMfa } from '../config/mfa.js'
import type { ResolvedStore } from '../stores/resolve.js'

/** What an authenticator app is given at enrolment: the secret (base32), its otpauth:// URI and that URI as a QR. */
export interface TotpEnrolment {
  secret: string
  uri: string
  /** An SVG data URL of the URI's QR code. */
  qr: string
}

type Otpauth = typeof import('otpauth')
type Uqr = typeof import('uqr')

// Imported at the first use: apps without MFA do not load them, and register does not wait for them.
let modules: Promise<[Otpauth, Uqr]> | undefined
const load = (): Promise<[Otpauth, Uqr]> => (modules ??= Promise.all([import('otpauth'), import('uqr')]))

const digest = (text: string): string => createHash('sha256').update(text).digest('base64url')

// RFC 4226 section 4: a shared secret of 160 bits at least.
const SECRET_BYTES = 20

/**
 * The TOTP factor (RFC 6238, HMAC-SHA-1 as every authenticator app has it). `enrol` makes a secret; `verify` checks
 * a code and spends its time step: a code works once, on every instance sharing the store.
 */
export function createTotp (options: ResolvedMfa['totp'], store: ResolvedStore) {
  const { issuer, digits, period, window } = options
  const shape = new RegExp(`^\\d{${digits}}$`)
  // Long enough for every step a code of now may name, and the step after.
  const markerTtl = (2 * window + 2) * period

  /**
   * The step a code is spent at, claimed once: the user's last spent step (a durable marker in the store's locks,
   * which a flood of ephemeral entries cannot evict) refuses it and every older one; an atomic counter per step
   * decides between two instances taking the same code at the same moment.
   */
  async function spend (userId: string, step: number): Promise<boolean> {
    const marker = `totp.${digest(userId)}`
    // A lock holds a number: here, the last step spent (not a time).
    const last = await store.locks.lockedUntil(marker)
    if (last !== null && step <= last) return false
    if (await store.counters.increment(`${marker}.${step}`, markerTtl) !== 1) return false
    await store.locks.lock(marker, step, markerTtl)
    return true
  }

  return {
    async enrol (label: string): Promise<TotpEnrolment> {
      const [{ Secret, TOTP }, { renderSVG }] = await load()
      const secret = new Secret({ size: SECRET_BYTES })
      const uri = new TOTP({ issuer, label, secret, digits, period, algorithm: 'SHA1' }).toString()
      const qr = `data:image/svg+xml;base64,${Buffer.from(renderSVG(uri)).toString('base64')}`
      return { secret: secret.base32, uri, qr }
    },

    /** Whether `code` is the secret's for a step within the window, not spent before; spends it. */
    async verify (userId: string, secret: string, code: string): Promise<boolean> {
      if (!shape.test(code)) return false
      const [{ Secret, TOTP }] = await load()
      const timestamp = Date.now()
      const delta = TOTP.validate({ token: code, secret: Secret.fromBase32(secret), digits, period, window, timestamp })
      if (delta === null) return false
      return await spend(userId, TOTP.counter({ period, timestamp }) + delta)
    }
  }
}

export type Totp = ReturnType<typeof createTotp>
