// Swagger documents the passkey routes (issue 23): summaries, bodies, responses; the authenticated ones with the lock.
import swagger from '@fastify/swagger'
import Fastify from 'fastify'
import t from 'tap'
import jwtAuth, { type JwtAuthOptions } from '../../lib/index.js'
import { SECRET } from '../helpers/app.js'
import { mfaRecords, mfaUsers, MFA_KEY } from '../helpers/mfa-app.js'
import { memoryPasskeys } from '../helpers/passkey-users.js'

interface Operation { security?: unknown, summary?: string, tags?: string[], requestBody?: { content: Record<string, unknown> }, responses: Record<string, unknown> }

t.test('every passkey route is documented', async (t) => {
  const app = Fastify()
  await app.register(swagger, { openapi: { info: { title: 'test', version: '1.0.0' } } })
  const { users } = mfaUsers(await mfaRecords())
  const { tables, ...group } = memoryPasskeys(() => true)
  await app.register(jwtAuth, {
    secret: SECRET,
    routes: true,
    users: { ...users, ...group },
    mfa: { encryptionKey: MFA_KEY },
    passkeys: { rpID: 'example.test', rpName: 'Example', origins: ['https://example.test'] }
  } as JwtAuthOptions)
  t.teardown(() => app.close())
  await app.ready()
  const paths = (app.swagger() as unknown as { paths: Record<string, Record<string, Operation>> }).paths
  const routes: Array<[string, string, boolean, string[]]> = [
    ['post', '/auth/passkeys/register/options', true, ['200', '401', '429', '503']],
    ['post', '/auth/passkeys/register/verify', true, ['201', '400', '401', '409', '413', '429', '503']],
    ['get', '/auth/passkeys', true, ['200', '401', '429', '503']],
    ['delete', '/auth/passkeys/{id}', true, ['204', '400', '401', '404', '409', '429', '503']],
    ['post', '/auth/passkeys/login/options', false, ['200', '400', '429', '503']],
    ['post', '/auth/passkeys/login/verify', false, ['200', '400', '401', '413', '429', '503']],
    ['post', '/auth/mfa/passkey/options', false, ['200', '400', '401', '429', '503']]
  ]
  for (const [method, path, locked, statuses] of routes) {
    const operation = paths[path]?.[method]
    t.ok(operation?.summary, `${path} has a summary`)
    t.ok(operation?.tags?.includes('passkeys'), `${path} is tagged passkeys`)
    t.same(Object.keys(operation?.responses ?? {}), statuses, `${path} responses`)
    if (locked) t.ok(operation?.security, `${path} has the lock`)
    else t.equal(operation?.security, undefined, `${path} is public`)
    if (method === 'post' && path.endsWith('verify')) t.ok(operation?.requestBody?.content['application/json'], `${path} body`)
  }
  const verify = paths['/auth/mfa/verify']?.post?.requestBody?.content['application/json'] as { schema: { properties: object } }
  t.ok('passkey' in verify.schema.properties, 'POST /mfa/verify takes a passkey')
})
