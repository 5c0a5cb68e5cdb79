import type { RefreshState } from './types.js'

/**
 * How the memory and Redis stores keep a refresh token: 'L' + its record
 * while live, 'S' + its successor once spent.
 */
export function toRefreshState (value: string | null | undefined): RefreshState | null {
  if (value === null || value === undefined) return null
  return value.startsWith('L')
    ? { state: 'live', record: value.slice(1) }
    : { state: 'spent', successor: value.slice(1) }
}
