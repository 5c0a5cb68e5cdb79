// A conformance suite (the testing kit's users or store suite) run with a runner that records each check's outcome
// instead of failing: how a test proves that a broken adapter fails the check it should, and only that one.

type Runner = (name: string, fn: () => Promise<void>) => unknown

/** Runs `suite`: the names of the checks that failed, and why. No check at all is a failure of the test itself. */
export async function failuresOf<Options extends { test: Runner }> (
  suite: (options: Options) => Promise<unknown>, options: Omit<Options, 'test'>
): Promise<Map<string, Error>> {
  const failed = new Map<string, Error>()
  let checks = 0
  await suite({
    ...options,
    test: async (name: string, fn: () => Promise<void>) => {
      checks++
      try {
        await fn()
      } catch (error) {
        failed.set(name, error as Error)
      }
    }
  } as Options)
  if (checks === 0) throw new Error('no check ran')
  return failed
}
