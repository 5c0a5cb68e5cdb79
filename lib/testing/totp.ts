import { Secret, TOTP, URI } from 'otpauth'

export interface TotpCodeOptions {
  /** The time of the code, in ms since the epoch; default now. */
  timestamp?: number
  /** With a base32 secret: the app's mfa.totp.digits (default 6); a URI says it itself. */
  digits?: number
  /** With a base32 secret: the app's mfa.totp.period in seconds (default 30); a URI says it itself. */
  period?: number
}

/**
 * The TOTP code an authenticator app shows for a secret: the `secret` (base32) or the `uri` (otpauth://) of
 * POST /mfa/totp/setup. For tests of an app with the mfa option; each code is accepted once (a second code of the
 * same time step is refused): pass a later `timestamp` (a period on) for the next login.
 */
export function totpCode (secretOrUri: string, options: TotpCodeOptions = {}): string {
  if (typeof secretOrUri !== 'string' || secretOrUri === '') {
    throw new TypeError('totpCode: give the secret (base32) or the otpauth:// URI of the setup')
  }
  const { timestamp = Date.now(), digits = 6, period = 30 } = options
  if (secretOrUri.startsWith('otpauth://')) {
    const otp = URI.parse(secretOrUri)
    if (!(otp instanceof TOTP)) throw new TypeError('totpCode: the URI is not a TOTP one (otpauth://totp/...)')
    return otp.generate({ timestamp })
  }
  return TOTP.generate({ secret: Secret.fromBase32(secretOrUri), digits, period, timestamp })
}
