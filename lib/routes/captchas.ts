import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import svgCaptcha from 'svg-captcha'
import { InvalidCaptchaError } from '../errors.js'
import type { Captcha, ResolvedRoutes } from '../config/routes.js'
import type { StoreGuard } from '../stores/guard.js'
import type { AuthStore } from '../stores/types.js'

export interface CaptchaChallenge {
  captchaId: string
  /** An SVG data URL. */
  image: string
  /** Seconds the captcha may be answered. */
  expiresIn: number
}

const captchaKey = (id: string): string => `cap:${id}`

// Look-alike characters are left out: a human must be able to read the answer.
function svgCaptchaCreate (): Captcha {
  const { text, data } = svgCaptcha.create({ size: 5, noise: 2, ignoreChars: '0oO1iIlL' })
  return { text, svg: data }
}

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/**
 * One-time captchas. The answer lives only in the store (lower-cased, under a
 * random id, with a TTL), never in a response or a log; the first attempt
 * spends it, right or wrong.
 */
export function createCaptchas (options: NonNullable<ResolvedRoutes['captcha']>, store: AuthStore, guard: StoreGuard) {
  const create = options.create ?? svgCaptchaCreate
  return {
    async issue (): Promise<CaptchaChallenge> {
      const { text, svg } = await create()
      if (typeof text !== 'string' || text.length === 0 || typeof svg !== 'string') throw new TypeError('routes.captcha.create must return { text, svg } strings')
      const captchaId = randomUUID()
      await guard(() => store.set(captchaKey(captchaId), text.toLowerCase(), options.ttl))
      return { captchaId, image: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`, expiresIn: options.ttl }
    },

    async check (captchaId: unknown, answer: unknown): Promise<void> {
      if (typeof captchaId !== 'string' || typeof answer !== 'string' || captchaId === '' || answer === '') {
        throw new InvalidCaptchaError('captchaId and captcha are required')
      }
      const expected = await guard(() => store.take(captchaKey(captchaId)))
      // Digests make the comparison constant-time whatever the lengths.
      if (expected === null || !timingSafeEqual(digest(expected), digest(answer.trim().toLowerCase()))) {
        throw new InvalidCaptchaError('The captcha answer is wrong or expired')
      }
    }
  }
}

export type Captchas = ReturnType<typeof createCaptchas>
