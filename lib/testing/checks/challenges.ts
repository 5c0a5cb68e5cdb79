import assert from 'node:assert/strict'
import { race, type Check } from './support.js'

export const challengeChecks: Check[] = [
  {
    name: 'challenges: take returns the value put, once',
    async run ({ open, id }) {
      const { challenges } = (await open()).ports
      const [first, second] = [id('challenge'), id('challenge')]
      assert.equal(await challenges.take(first), null, 'take: null for an id never put')
      await challenges.put(first, 'Answer é 1', 60)
      await challenges.put(second, 'answer 2', 60)
      assert.equal(await challenges.take(first), 'Answer é 1', 'take: the value as put')
      assert.equal(await challenges.take(first), null, 'take: a second take finds nothing (one-time)')
      assert.equal(await challenges.take(second), 'answer 2', 'take: another id is apart')
    }
  },
  {
    name: 'challenges: of concurrent takes of one id, exactly one gets the value',
    async run ({ open, id, concurrency }) {
      const { challenges } = (await open()).ports
      const challenge = id('challenge')
      await challenges.put(challenge, 'answer', 60)
      const taken = await race(concurrency, () => challenges.take(challenge))
      assert.deepEqual(taken.filter((value) => value !== null), ['answer'], 'take is atomic: one take got the value')
    }
  }
]
