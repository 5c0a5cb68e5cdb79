import type { Test } from 'tap'

// .ci/run runs the suite on every supported Node line. Some checks give the same answer on every line: they compile
// with TypeScript, pack the package or run the bench scripts' smoke mode. The lines after the primary one set
// CI_LINE_INDEPENDENT_DONE=1, because the primary line's `npm test` ran those checks already; such a check is then
// reported as skipped, with this reason, never dropped silently. A plain `npm test` runs everything.
export const lineIndependentDone = process.env.CI_LINE_INDEPENDENT_DONE === '1'

export const RAN_ON_PRIMARY_LINE = 'the same on every Node line: the primary line\'s npm test ran it (CI_LINE_INDEPENDENT_DONE=1)'

/** tap's skip option for a line-independent test: false, or the reason. */
export const onceAcrossLines = (): { skip: string | false } => ({ skip: lineIndependentDone && RAN_ON_PRIMARY_LINE })

/** Reports a line-independent assertion as skipped, with the reason, where it ran on the primary line already. */
export const skipped = (t: Test, what: string): void => { t.test(what, { skip: RAN_ON_PRIMARY_LINE }, () => {}) }
