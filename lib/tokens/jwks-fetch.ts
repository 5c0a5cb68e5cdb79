import type { Jwk } from './keys.js'

// Bounds on what a JWKS endpoint may send: providers publish a handful of keys, a few KiB.
export const MAX_JWKS_KEYS = 100
const MAX_JWKS_BYTES = 1024 * 1024

/** A key of the set, with the parameters the key lookup reads typed (RFC 7517 section 4). */
export type PublishedKey = Jwk & { kid?: unknown, alg?: unknown, use?: unknown }

async function readCapped (response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'))
  if (declared > maxBytes) throw new Error(`the JWKS is larger than ${maxBytes} bytes`)
  const chunks: Uint8Array[] = []
  let size = 0
  // A body is always there for a 2xx answer to a GET; for/await stops reading (and cancels) on the throw.
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength
    if (size > maxBytes) throw new Error(`the JWKS is larger than ${maxBytes} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * The whole key set at `url` (RFC 7517 section 5), so that one fetch, whoever asked for it, learns every key the
 * issuer publishes. Rejects on a non-2xx answer, a redirect (it could lead off https), a body that is not a key set
 * or is over the bounds, and when `signal` aborts or `timeoutMs` passes (both cover reading the body too).
 */
export async function fetchKeySet (url: URL, timeoutMs: number, signal: AbortSignal): Promise<PublishedKey[]> {
  const response = await fetch(url, {
    headers: { accept: 'application/jwk-set+json, application/json' },
    redirect: 'error',
    signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
  })
  if (!response.ok) {
    await response.body?.cancel()
    throw new Error(`the JWKS endpoint answered ${response.status}`)
  }
  const body: unknown = JSON.parse(await readCapped(response, MAX_JWKS_BYTES))
  const keys = (body as { keys?: unknown } | null)?.keys
  if (!Array.isArray(keys)) throw new Error('the JWKS endpoint answered no key set')
  if (keys.length > MAX_JWKS_KEYS) throw new Error(`the JWKS holds more than ${MAX_JWKS_KEYS} keys`)
  return keys.filter((key): key is PublishedKey => typeof key === 'object' && key !== null)
}
