import assert from 'node:assert/strict'
import type { AuthStore, StoreContext } from '../../stores/types.js'
import type { Check } from './support.js'

export const lifecycleChecks: Check[] = [
  {
    name: 'the plugin accepts it at register: every port and method is there',
    async run ({ open }) {
      // open() makes the checks of register (checkStore): a missing method fails here, naming it.
      await open()
    }
  },
  {
    name: 'lifecycle: attach and detach, when given, as an app registering and closing',
    async run ({ open, id }) {
      const subject = await open()
      // The key-value shape has neither: the plugin's attach and detach do nothing for it.
      const store = subject.store as Pick<AuthStore, 'attach' | 'detach'>
      // What a store logs at attach goes to the app's log: here, nowhere.
      const log: StoreContext['log'] = { warn: () => {}, info: () => {} }
      // attach may wait (for a connection, say): the plugin awaits it before register resolves.
      await store.attach?.({ log })
      const challenge = id('challenge')
      await subject.ports.challenges.put(challenge, 'answer', 60)
      assert.equal(await subject.ports.challenges.take(challenge), 'answer', 'an attached store serves')
      await store.detach?.()
    }
  }
]
