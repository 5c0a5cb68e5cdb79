import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import { InvalidCaptchaError } from '../errors.js'
import type { Captcha, ResolvedRoutes } from '../config/routes.js'
import type { Challenges } from '../stores/types.js'

export interface CaptchaChallenge {
  captchaId: string
  /** An SVG data URL. */
  image: string
  /** Seconds the captcha may be answered. */
  expiresIn: number
}

// Imported only when it is the generator: svg-captcha parses its font as it loads,
// a cost that apps without captchas, or with their own `create`, need not pay.
async function loadSvgCaptcha (): Promise<() => Captcha> {
  const { default: svgCaptcha } = await import('svg-captcha')
  // Look-alike characters are left out: a human must be able to read the answer.
  return () => {
    const { text, data } = svgCaptcha.create({ size: 5, noise: 2, ignoreChars: '0oO1iIlL' })
    return { text, svg: data }
  }
}

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/**
 * One-time captchas. The answer lives only in the store (lower-cased, under a
 * random id, with a TTL), never in a response or a log; the first attempt
 * spends it, right or wrong.
 */
export async function createCaptchas (options: NonNullable<ResolvedRoutes['captcha']>, challenges: Challenges) {
  const create = options.create ?? await loadSvgCaptcha()
  return {
    async issue (): Promise<CaptchaChallenge> {
      const { text, svg } = await create()
      if (typeof text !== 'string' || text.length === 0 || typeof svg !== 'string') {
        throw new TypeError('routes.captcha.create must return { text, svg } strings')
      }
      const captchaId = randomUUID()
      await challenges.put(`captcha:${captchaId}`, text.toLowerCase(), options.ttl)
      return {
        captchaId,
        image: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`,
        expiresIn: options.ttl
      }
    },

    async check (captchaId: unknown, answer: unknown): Promise<void> {
      if (typeof captchaId !== 'string' || typeof answer !== 'string' || captchaId === '' || answer === '') {
        throw new InvalidCaptchaError('captchaId and captcha are required')
      }
      const expected = await challenges.take(`captcha:${captchaId}`)
      // Digests make the comparison constant-time whatever the lengths.
      if (expected === null || !timingSafeEqual(digest(expected), digest(answer.trim().toLowerCase()))) {
        throw new InvalidCaptchaError('The captcha answer is wrong or expired')
      }
    }
  }
}

export type Captchas = Awaited<ReturnType<typeof createCaptchas>>
