/** Replaces Date.now with a clock the test moves by hand, restored at teardown. */
export function fakeClock (t: { teardown: (fn: () => void) => void }, start = Date.now()): { now: number } {
  const clock = { now: start }
  const realNow = Date.now
  Date.now = () => clock.now
  t.teardown(() => { Date.now = realNow })
  return clock
}
