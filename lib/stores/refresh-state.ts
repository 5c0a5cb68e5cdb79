import type { RefreshState } from './types.js'

/**
 * How the memory and Redis stores keep a refresh token: 'L' + its record
 * while live, 'S' + its successor once spent. The Redis scripts answer 'G' +
 * the family's generation for a token they have no record of.
 */
export function toRefreshState (value: string | null | undefined): RefreshState | null {
  if (value === null || value === undefined) return null
  if (value.startsWith('L')) return { state: 'live', record: value.slice(1) }
  if (value.startsWith('G')) return { state: 'absent', generation: Number(value.slice(1)) }
  return { state: 'spent', successor: value.slice(1) }
}
