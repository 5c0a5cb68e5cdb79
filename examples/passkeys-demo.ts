// The example's page to try passkeys (examples/passkeys-demo/): `/` answers it to browsers (which ask for HTML),
// the JSON greeting to everyone else. @simplewebauthn/browser is served from node_modules, file by file, as the
// ES modules it ships: the page loads nothing from another origin.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyRequest } from 'fastify'

const PAGE_DIR = fileURLToPath(new URL('passkeys-demo/', import.meta.url))

/** Every .js file under `dir`, by its path relative to it ('/' separated). */
function modules (dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>()
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.js')) continue
    const path = join(entry.parentPath, entry.name)
    files.set(relative(dir, path).split(sep).join('/'), readFileSync(path))
  }
  return files
}

/** Whether the client asked for HTML first (a browser's navigation), rather than JSON or anything (curl, fetch). */
export function wantsHtml (request: FastifyRequest): boolean {
  return /^\s*text\/html\b/.test(request.headers.accept ?? '')
}

export function passkeysDemo (app: FastifyInstance): { page: Buffer } {
  // Read once at start: the set of files served is fixed, so no request path reaches the file system.
  const library = modules(dirname(fileURLToPath(import.meta.resolve('@simplewebauthn/browser'))))
  const page = readFileSync(join(PAGE_DIR, 'index.html'))
  const script = readFileSync(join(PAGE_DIR, 'page.js'))
  const options = { schema: { hide: true } as object }

  app.get('/passkeys-demo/page.js', options, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').send(script))
  app.get<{ Params: { '*': string } }>('/passkeys-demo/simplewebauthn/*', options, async (request, reply) => {
    const file = library.get(request.params['*'])
    if (file === undefined) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'no such module' })
    return reply.type('text/javascript; charset=utf-8').send(file)
  })
  return { page }
}
