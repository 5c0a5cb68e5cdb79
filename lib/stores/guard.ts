import { StoreUnavailableError } from '../errors.js'

/**
 * Runs store operations fail-closed: a store that throws, rejects or does not
 * answer within `timeoutMs` becomes a 503 StoreUnavailableError (the original
 * error as its `cause`), so no request waits on, or gets past, a broken store.
 */
export function createStoreGuard (timeoutMs: number) {
  return async function guard<T> (operation: () => Promise<T> | T): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((resolve, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError({ cause: new Error(`store did not answer within ${timeoutMs} ms`) })), timeoutMs)
    })
    try {
      return await Promise.race([operation(), timeout])
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error
      throw new StoreUnavailableError({ cause: error })
    } finally {
      clearTimeout(timer)
    }
  }
}

export type StoreGuard = ReturnType<typeof createStoreGuard>
