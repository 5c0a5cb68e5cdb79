import { StoreUnavailableError } from '../errors.js'

/**
 * The store's error, kept as the 503's cause for the logs, without the command
 * arguments a Redis client attaches to it (captcha answers, session details).
 */
function withoutArguments (error: unknown): unknown {
  if (error !== null && typeof error === 'object' && 'command' in error) delete (error as { command?: unknown }).command
  return error
}

/**
 * Runs store operations fail-closed: a store that throws, rejects or does not
 * answer within `timeoutMs` becomes a 503 StoreUnavailableError (the original
 * error as its `cause`), so no request waits on, or gets past, a broken store.
 */
export function createStoreGuard (timeoutMs: number) {
  return function guard<T> (operation: () => Promise<T> | T): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((resolve, reject) => {
      timer = setTimeout(() => {
        reject(new StoreUnavailableError({ cause: new Error(`store did not answer within ${timeoutMs} ms`) }))
      }, timeoutMs)
    })
    // The executor turns a synchronous throw into a rejection.
    const attempt = new Promise<T>((resolve) => { resolve(operation()) })
    return Promise.race([attempt, timeout]).then(
      (value) => {
        clearTimeout(timer)
        return value
      },
      (error: unknown) => {
        clearTimeout(timer)
        if (error instanceof StoreUnavailableError) throw error
        throw new StoreUnavailableError({ cause: withoutArguments(error) })
      })
  }
}

export type StoreGuard = ReturnType<typeof createStoreGuard>
