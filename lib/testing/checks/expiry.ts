import assert from 'node:assert/strict'
import type { StoreSubject } from '../store-subject.js'
import { known, rotation } from './refresh-tokens.js'
import { family, sleep, type Check, type CheckContext } from './support.js'

// Entries are written with a TTL of 1 s and looked at 1.5 s later: room for a store that expires by the second.
const LOOK_AFTER_MS = 1500
// A counter's second increment, well inside its window (a loaded machine's timers run late): a store that restarts
// the window there keeps it until 1.6 s, past the look at 1.5 s.
const SECOND_INCREMENT_MS = 600

type Name =
  'kept' | 'expired' | 'family' | 'user' | 'token' | 'spent' | 'counter' | 'lock' | 'challenge' | 'renewed'
type Names = Record<Name, string>

function names (id: CheckContext['id']): Names {
  return {
    kept: id('user'),
    expired: id('family'),
    family: family(),
    user: id('user'),
    token: id('token'),
    spent: id('spent'),
    counter: id('counter'),
    lock: id('lock'),
    challenge: id('challenge'),
    renewed: family()
  }
}

/** An entry of each kind, with a TTL of 1 s (a marker also raised with 3 s first, a token spent with 1 s of grace). */
async function write ({ ports, atomicMarkers }: StoreSubject, name: Names, id: CheckContext['id']): Promise<void> {
  if (atomicMarkers) {
    await ports.revocations.raise('user', name.kept, 1, 3)
    await ports.revocations.raise('user', name.kept, 1, 1)
  }
  await ports.revocations.raise('family', name.expired, 1, 1)
  await ports.refreshTokens.create(name.family, name.token, 'record', 1)
  await ports.refreshTokens.create(name.family, name.spent, 'record', 60)
  await ports.refreshTokens.rotate(rotation(name.family, name.spent, id('next'), { graceSeconds: 1 }))
  await ports.sessions.put(name.user, name.family, 'session', 1)
  await ports.locks.lock(name.lock, Date.now() + 60_000, 1)
  await ports.challenges.put(name.challenge, 'answer', 1)
  await renewGeneration(ports.refreshTokens, name.renewed, id)
}

/**
 * A family's generation, written for 1 s at 5, then renewed for 60 s by a rotation at 1 (a chain going on below it:
 * a session a password change kept, in an earlier version): it must still read 5 past the first second.
 */
async function renewGeneration (tokens: StoreSubject['ports']['refreshTokens'], fam: string, id: CheckContext['id']) {
  const [a, b] = [id('a'), id('b')]
  await tokens.create(fam, a, 'record', 60)
  await tokens.rotate(rotation(fam, a, b, { generation: 5, ttlSeconds: 1 }))
  await tokens.rotate(rotation(fam, b, id('c'), { generation: 1, ttlSeconds: 60 }))
}

async function look ({ ports, atomicMarkers }: StoreSubject, name: Names, id: CheckContext['id']): Promise<void> {
  const { revocations, refreshTokens } = ports
  if (atomicMarkers) {
    assert.equal(await revocations.read('user', name.kept), '2', 'raise with a shorter ttl did not cut the lifetime')
  }
  assert.equal(await revocations.read('family', name.expired), null, 'a revocation marker expires')
  const peeked = revocations.peek?.('family', name.expired)
  assert.ok(peeked === undefined || peeked === null, `peek of an expired marker: null or undefined (${peeked})`)
  assert.equal(known(await refreshTokens.find(name.family, name.token)), null, 'a live refresh token expires')
  assert.equal(known(await refreshTokens.find(name.family, name.spent)), null,
    'a spent token is forgotten after its grace')
  assert.equal(known(await refreshTokens.rotate(rotation(name.family, name.spent, id('next')))), null,
    'and rotating it finds nothing')
  assert.deepEqual({ ...await ports.sessions.list(name.user) }, {}, 'a session index expires')
  assert.equal(await ports.locks.lockedUntil(name.lock), null, 'a lock expires')
  assert.equal(await ports.challenges.take(name.challenge), null, 'a challenge expires')
  const generation = await refreshTokens.generation?.(name.renewed)
  assert.ok(generation === undefined || generation === 5,
    `every rotation renews its family's generation, a lower one too: it keeps the highest (${generation})`)
}

export const expiryChecks: Check[] = [
  {
    name: 'expiry: every kind of entry is gone after its ttl; lifetimes and windows are neither cut nor extended',
    async run ({ open, id }) {
      const subject = await open()
      const name = names(id)
      await write(subject, name, id)
      const { counters } = subject.ports
      if (subject.atomicCounters) {
        await counters.increment(name.counter, 1)
        await sleep(SECOND_INCREMENT_MS)
        assert.equal(await counters.increment(name.counter, 1), 2, 'an increment within the window counts on')
      }
      await sleep(subject.atomicCounters ? LOOK_AFTER_MS - SECOND_INCREMENT_MS : LOOK_AFTER_MS)
      await look(subject, name, id)
      if (subject.atomicCounters) {
        assert.equal(await counters.increment(name.counter, 1), 1,
          'a counter\'s window runs from its first increment: later increments do not extend it')
      }
    }
  }
]
