import assert from 'node:assert/strict'
import type { RefreshState, Rotation } from '../../stores/types.js'
import { family, race, type Check } from './support.js'

// Records are opaque to a store: one with spaces, quotes, non-ASCII and a leading 'S' must come back as it was.
const RECORD = JSON.stringify({ sub: 'zoë 😀', note: 'S "quoted" L' })

/** A rotation of `jti` to `next`, with a successor and record named after `next`. */
export function rotation (fam: string, jti: string, next: string, extra: Partial<Rotation> = {}): Rotation {
  return {
    family: fam,
    jti,
    next: { jti: next, record: `record of ${next}` },
    successor: `successor ${next}`,
    ttlSeconds: 60,
    graceSeconds: 60,
    generation: 1,
    ...extra
  }
}

const live = (record: string): RefreshState => ({ state: 'live', record })
const spent = (successor: string): RefreshState => ({ state: 'spent', successor })
/** No record: null, or `absent` (a store may say so with the family's generation, checked apart). */
export const known = (state: RefreshState | null): RefreshState | null => state?.state === 'absent' ? null : state

export const refreshTokenChecks: Check[] = [
  {
    name: 'refresh tokens: create, find (live, with its record as given), discard',
    async run ({ open, id }) {
      const tokens = (await open()).ports.refreshTokens
      const fam = family()
      const a = id('a')
      assert.equal(known(await tokens.find(fam, a)), null, 'find: null for a token never stored')
      await tokens.create(fam, a, RECORD, 60)
      assert.deepEqual(await tokens.find(fam, a), live(RECORD), 'find: live, with the record unchanged')
      await tokens.discard(fam, a)
      assert.equal(known(await tokens.find(fam, a)), null, 'discard: forgotten')
      await tokens.discard(fam, id('never'))
    }
  },
  {
    name: 'refresh tokens: rotate spends a live token for its successor; spent, it only reads',
    async run ({ open, id }) {
      const tokens = (await open()).ports.refreshTokens
      const fam = family()
      const [a, b, c] = [id('a'), id('b'), id('c')]
      await tokens.create(fam, a, RECORD, 60)
      assert.deepEqual(await tokens.rotate(rotation(fam, a, b)), live(RECORD), 'rotate: the state before, live')
      assert.deepEqual(await tokens.find(fam, b), live(`record of ${b}`), 'rotate: the successor is stored live')
      assert.deepEqual(await tokens.find(fam, a), spent(`successor ${b}`), 'rotate: the token is kept spent')
      assert.deepEqual(await tokens.rotate(rotation(fam, a, c)), spent(`successor ${b}`),
        'rotate of a spent token: its state, spent with the first successor')
      assert.equal(known(await tokens.find(fam, c)), null, 'rotate of a spent token writes nothing')
      const unknown = id('unknown')
      assert.equal(known(await tokens.rotate(rotation(fam, unknown, c))), null, 'rotate of an unknown token: null')
      assert.equal(known(await tokens.find(fam, c)), null, 'rotate of an unknown token writes nothing')
      await tokens.discard(fam, a)
      assert.equal(known(await tokens.find(fam, a)), null, 'discard forgets a spent token too')
    }
  },
  {
    name: 'refresh tokens: grace 0 forgets the spent token at once; a rotation ends its parent\'s grace',
    async run ({ open, id }) {
      const tokens = (await open()).ports.refreshTokens
      const fam = family()
      const [a, b, c, d] = [id('a'), id('b'), id('c'), id('d')]
      await tokens.create(fam, a, RECORD, 60)
      assert.deepEqual(await tokens.rotate(rotation(fam, a, b, { graceSeconds: 0 })), live(RECORD))
      assert.equal(known(await tokens.find(fam, a)), null, 'graceSeconds 0: the spent token is forgotten at once')
      assert.equal(known(await tokens.rotate(rotation(fam, a, id('x')))), null, 'and rotating it again finds nothing')
      await tokens.rotate(rotation(fam, b, c))
      await tokens.rotate(rotation(fam, c, d, { parent: b }))
      assert.equal(known(await tokens.find(fam, b)), null, 'rotate with parent: the spent parent is forgotten')
      assert.deepEqual(await tokens.find(fam, c), spent(`successor ${d}`), 'and the token itself is kept spent')
    }
  },
  {
    name: 'refresh tokens: generation, when given, is the highest a rotation of the family wrote (0 before any)',
    async run ({ open, id }) {
      const tokens = (await open()).ports.refreshTokens
      if (tokens.generation === undefined) return
      const fam = family()
      const [a, b, c] = [id('a'), id('b'), id('c')]
      assert.equal(await tokens.generation(fam), 0, 'generation: 0 for a family never rotated')
      await tokens.create(fam, a, RECORD, 60)
      assert.equal(await tokens.generation(fam), 0, 'create writes no generation')
      await tokens.rotate(rotation(fam, a, b, { generation: 1 }))
      assert.equal(await tokens.generation(fam), 1, 'a rotation keeps its generation')
      await tokens.rotate(rotation(fam, a, c, { generation: 7 }))
      assert.equal(await tokens.generation(fam), 1, 'a rotation that spends nothing writes no generation')
      await tokens.rotate(rotation(fam, b, c, { generation: 2 }))
      assert.equal(await tokens.generation(fam), 2, 'the next rotation raises it')
      await tokens.create(fam, a, RECORD, 60)
      await tokens.rotate(rotation(fam, a, id('d'), { generation: 1 }))
      assert.equal(await tokens.generation(fam), 2, 'a lower generation never lowers it')
      await tokens.rotate(rotation(fam, id('d'), id('e'), { generation: 2 }))
      assert.equal(await tokens.generation(fam), 2, 'nor does an equal one')
      assert.equal(await tokens.generation(family()), 0, 'each family apart')
    }
  },
  {
    name: 'refresh tokens: a store that answers `absent` gives the family\'s generation with it',
    async run ({ open, id }) {
      const tokens = (await open()).ports.refreshTokens
      const fam = family()
      const [a, b] = [id('a'), id('b')]
      const answers = async (): Promise<Array<RefreshState | null>> =>
        [await tokens.find(fam, id('none')), await tokens.rotate(rotation(fam, id('none'), id('x'), { generation: 9 }))]
      for (const answer of await answers()) {
        if (answer?.state === 'absent') assert.equal(answer.generation, 0, 'absent: generation 0 before any rotation')
      }
      await tokens.create(fam, a, RECORD, 60)
      await tokens.rotate(rotation(fam, a, b, { generation: 3, graceSeconds: 0 }))
      for (const answer of [...await answers(), await tokens.find(fam, a)]) {
        if (answer?.state === 'absent') assert.equal(answer.generation, 3, 'absent: the family\'s generation')
      }
    }
  },
  {
    name: 'refresh tokens: of concurrent rotations of one token, exactly one sees it live',
    async run ({ open, id, concurrency }) {
      const subject = await open()
      const tokens = subject.ports.refreshTokens
      const fam = family()
      const token = id('token')
      const nexts = Array.from({ length: concurrency }, (_, index) => id(`next${index}`))
      await tokens.create(fam, token, RECORD, 60)
      const results = await race(concurrency, (index) => tokens.rotate(rotation(fam, token, nexts[index]!)))
      const winners = results.flatMap((result, index) => result?.state === 'live' ? [index] : [])
      assert.equal(winners.length, 1, `exactly one rotation sees the token live (${winners.length} did)`)
      const winner = nexts[winners[0]!]!
      for (const [index, result] of results.entries()) {
        if (index === winners[0]) continue
        // The key-value shape's rotation is a take then a set: a loser may find the token taken (null).
        if (known(result) === null && !subject.strictRotation) continue
        assert.deepEqual(result, spent(`successor ${winner}`), 'the others see it spent, with the winner\'s successor')
      }
      const stored = await Promise.all(nexts.map(async (next) => known(await tokens.find(fam, next))))
      assert.deepEqual(stored.filter((state) => state !== null), [live(`record of ${winner}`)],
        'only the winner\'s successor is stored')
    }
  }
]
