import t from 'tap'
import { createUserCache } from '../lib/users/user-cache.js'
import { fakeClock } from './helpers/clock.js'

t.test('the user cache: two generations, ttl, delete', async (t) => {
  const clock = fakeClock(t)
  const cache = createUserCache(10, 4) // generations of 2
  const user = (id: number) => ({ id }) as never
  cache.set('a', user(1))
  cache.set('b', user(2))
  cache.set('c', user(3)) // a and b move to the previous generation
  t.same([cache.get('a'), cache.get('b'), cache.get('c')], [{ id: 1 }, { id: 2 }, { id: 3 }], 'the previous generation still answers')
  cache.set('b', user(20)) // back into the current generation, out of the previous one
  cache.set('d', user(4)) // c and b become the previous generation; a goes
  t.equal(cache.get('a'), undefined, 'dropped with its generation')
  t.same(cache.get('b'), { id: 20 })
  cache.set('d', user(40)) // already current: no generation change
  t.same(cache.get('c'), { id: 3 })
  cache.delete('c')
  t.equal(cache.get('c'), undefined)
  clock.now += 10_001
  t.equal(cache.get('b'), undefined, 'expired in the previous generation')
  t.equal(cache.get('d'), undefined, 'expired in the current one')
  t.equal(createUserCache(0, 4).get('a'), undefined, 'ttl 0: no cache')
  cache.set('e', user(5))
  cache.set('f', user(6))
  cache.set('g', user(7))
  cache.clear()
  t.same([cache.get('e'), cache.get('f'), cache.get('g')], [undefined, undefined, undefined], 'clear drops both generations')
  const off = createUserCache(0, 4)
  off.set('a', user(1))
  off.clear()
  t.equal(off.get('a'), undefined)
})
