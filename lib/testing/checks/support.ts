import { randomUUID } from 'node:crypto'
import type { StoreSubject } from '../store-subject.js'

/** What each check is given: stores to open (closed after it), fresh names, how many calls race. */
export interface CheckContext {
  /** A new store from createStore, as the plugin would see it; closed when the check ends. */
  open (): Promise<StoreSubject>
  /** A name no other check (nor another run on a shared store) uses: `${what}-<uuid>`. */
  id (what: string): string
  /** Concurrent calls in the atomicity checks. */
  concurrency: number
}

export interface Check {
  name: string
  run (context: CheckContext): Promise<void>
}

/** Runs `count` calls of `call` at once (each given its index) and waits for all. */
export function race<T> (count: number, call: (index: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: count }, (_, index) => call(index)))
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls until `check` holds; false when it still does not after `withinMs` (what travels between instances). */
export async function eventually (check: () => boolean | Promise<boolean>, withinMs: number): Promise<boolean> {
  const end = Date.now() + withinMs
  while (!(await check())) {
    if (Date.now() > end) return false
    await sleep(10)
  }
  return true
}

/** A fresh family id: the plugin's are UUIDs, which a store may rely on (Redis uses them as hash tags). */
export const family = (): string => randomUUID()
