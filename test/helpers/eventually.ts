/**
 * Polls `check` until it holds or `withinMs` passes; resolves to the ms it took,
 * or to undefined when it never held. For changes that travel (pub/sub), not for timing code.
 */
export async function eventually (check: () => Promise<boolean> | boolean, withinMs: number, everyMs = 2): Promise<number | undefined> {
  const started = performance.now()
  for (;;) {
    if (await check()) return performance.now() - started
    if (performance.now() - started > withinMs) return undefined
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
