// Every fenced code block of README.md and docs/ compiles or runs as printed, and every relative link resolves.
// Conventions (docs/README.md, "Code in these pages", says them to readers):
// - `ts`, `mts`, `cts`, `js`, `mjs`, `cjs`: a module of its own, type-checked (strict, NodeNext) against the built
//   package, in a scratch project whose node_modules holds this repository as `fastify-jwt-auth` (so `npm run build`
//   comes first, as in `npm test`). `ts`/`js` files are ES modules ("type": "module"); with the word `commonjs`
//   they sit in a CommonJS project instead. `file=NAME` names the file (it is then run by a later block).
// - `ts fragment`: docs/README.md's `ts prelude` block, then the fragment, type-checked as one module.
// - `run`: also run to completion (exit 0) in the scratch project, with tsx for TypeScript.
// - `sh`: `bash -n`; with `run`, run in a scratch folder (exit 0); with `server`, started in the scratch folder of the
//   latest `file=` block of its page, on a free PORT, until it answers; each later `sh client` block is run against
//   it (`:3000` becomes that port), and the HTTP statuses it prints must be those its `# NNN` comments announce.
//   `sh walkthrough` is the example server's walk-through: test/walkthrough.test.ts runs it.
// - `json`: parsed. `text`: output shown to the reader, not code.
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import ts from 'typescript'
import { lineIndependentDone, skipped } from './helpers/ci-line.js'
import { anchors, docFiles, links, parse, type CodeBlock } from './helpers/markdown.js'
import { childEnv, freePort, stop, waitForHttp } from './helpers/example-server.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const README_MAX_LINES = 300
const RUN_TIMEOUT_MS = 60_000
// Compiling every block and running the runnable ones, one after the other: more than tap's default on a busy machine.
t.setTimeout(240_000)
const LANGUAGES = new Set(['ts', 'mts', 'cts', 'js', 'mjs', 'cjs', 'sh', 'json', 'text'])
const CODE = new Set(['ts', 'mts', 'cts', 'js', 'mjs', 'cjs'])
const WORDS = /^(fragment|prelude|run|commonjs|server|client|walkthrough|file=[\w.-]+)$/

const where = (block: CodeBlock) => `${block.file}:${block.line}`
const files = docFiles(root)
const blocks = files.flatMap((file) => parse(root, file).blocks)

interface Run { code: number | null, stdout: string, stderr: string }

function run (command: string, args: string[], cwd: string, env = childEnv()): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout: RUN_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null
      resolve({ code, stdout, stderr: error !== null && code === null ? `${String(error)}\n${stderr}` : stderr })
    })
  })
}

/** A project in the temporary folder whose node_modules are the repository's, plus the repository itself. */
function scratchProject (): string {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-jwt-auth-docs-'))
  mkdirSync(join(dir, 'node_modules'))
  for (const name of readdirSync(join(root, 'node_modules'))) {
    symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name))
  }
  symlinkSync(root, join(dir, 'node_modules', 'fastify-jwt-auth'), 'dir')
  return dir
}

/** Where a block's file goes: per page, an ES module project or a CommonJS one, as a user's project would be. */
function placeOf (project: string, block: CodeBlock): { dir: string, name: string, offset: number, source: string } {
  const commonjs = block.words.includes('commonjs') || block.lang === 'cts' || block.lang === 'cjs'
  const dir = join(project, block.file.replace(/[/.]/g, '_'), commonjs ? 'commonjs' : 'module')
  if (!existsSync(dir)) {
    // A user's project: its package.json, and node_modules (for npx too).
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: commonjs ? 'commonjs' : 'module' }))
    symlinkSync(join(project, 'node_modules'), join(dir, 'node_modules'), 'dir')
  }
  const named = block.words.find((word) => word.startsWith('file='))?.slice('file='.length)
  const name = named ?? `block-${block.line}.${block.lang}`
  if (!block.words.includes('fragment')) return { dir, name, offset: 0, source: block.code }
  const prelude = blocks.find((candidate) => candidate.words.includes('prelude'))
  if (prelude === undefined) throw new Error('no `ts prelude` block in the docs')
  const lines = prelude.code.split('\n').length - 1
  return { dir, name, offset: lines, source: prelude.code + block.code }
}

t.test('every code block has a known language and known words', async (t) => {
  for (const block of blocks) {
    t.ok(LANGUAGES.has(block.lang), `${where(block)}: language "${block.lang}"`)
    for (const word of block.words) t.match(word, WORDS, `${where(block)}: info word "${word}"`)
    if (block.words.includes('fragment')) t.equal(block.lang, 'ts', `${where(block)}: fragments are TypeScript`)
  }
  t.equal(blocks.filter((block) => block.words.includes('prelude')).length, 1, 'one prelude for the fragments')
})

t.test('the README is short, and leads to every page', async (t) => {
  const readme = parse(root, 'README.md')
  const lines = readme.prose.length + readme.blocks.reduce((sum, block) => sum + block.code.split('\n').length + 1, 0)
  t.ok(lines < README_MAX_LINES, `README.md has ${lines} lines (under ${README_MAX_LINES})`)
  t.notMatch(readme.prose.map((line) => line.text).join('\n'), /API\.md/, 'no mention of API.md')
  t.notMatch(readme.blocks.map((block) => block.code).join('\n'), /checkPassword/, 'no undefined login helper')
})

t.test('relative links resolve to files and headings; every page is reachable from the README', async (t) => {
  const reached = new Set(['README.md'])
  const queue = ['README.md']
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const link of links(root, file)) {
      if (/^[a-z][a-z+.-]*:/i.test(link.target)) continue // https:, mailto:
      const [path = '', anchor] = link.target.split('#')
      const target = path === '' ? file : posix.normalize(posix.join(posix.dirname(file), path))
      const at = `${link.file}:${link.line}: ${link.target}`
      if (!existsSync(join(root, target))) {
        t.fail(`${at}: no file ${target}`)
        continue
      }
      if (anchor !== undefined) {
        t.ok(target.endsWith('.md') && anchors(root, target).has(anchor), `${at}: heading #${anchor} in ${target}`)
      }
      if (target.endsWith('.md') && !reached.has(target)) {
        reached.add(target)
        queue.push(target)
      }
    }
  }
  for (const file of files) t.ok(reached.has(file), `${file} is reachable from README.md`)
})

t.test('code blocks type-check against the built package', async (t) => {
  if (!existsSync(join(root, 'dist', 'esm', 'index.d.ts'))) {
    t.fail('no dist/: run `npm run build` first (npm test does)')
    return
  }
  const project = scratchProject()
  t.teardown(() => rmSync(project, { recursive: true, force: true }))
  const code = blocks.filter((block) => CODE.has(block.lang))
  const placed = new Map<string, { block: CodeBlock, offset: number }>()
  for (const block of code) {
    const { dir, name, offset, source } = placeOf(project, block)
    const path = join(dir, name)
    if (placed.has(path)) throw new Error(`${where(block)}: ${name} is written twice on this page`)
    writeFileSync(path, source)
    placed.set(path, { block, offset })
  }

  if (lineIndependentDone) skipped(t, `${code.length} blocks of TypeScript and JavaScript type-check`)
  else t.same(typeCheck(placed), [], `${code.length} blocks of TypeScript and JavaScript type-check`)

  for (const block of code.filter((candidate) => candidate.words.includes('run'))) {
    const { dir, name } = placeOf(project, block)
    const typescript = /ts$/.test(block.lang)
    const args = typescript ? [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), name] : [name]
    const result = await run(process.execPath, args, dir)
    t.equal(result.code, 0, `${where(block)} runs${result.code === 0 ? '' : `:\n${result.stdout}\n${result.stderr}`}`)
  }

  await shellBlocks(t, project)
})

/** The TypeScript diagnostics of the placed blocks (the page's line for each), one program per augmenting block. */
function typeCheck (placed: Map<string, { block: CodeBlock, offset: number }>): string[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    moduleDetection: ts.ModuleDetectionKind.Force,
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    allowJs: true,
    checkJs: true,
    noEmit: true,
    types: ['node']
  }
  // One program for the blocks that leave the packages' types alone; one for each block that augments them.
  const augments = (path: string) => /^\s*declare module /m.test(placed.get(path)!.block.code)
  const shared = [...placed.keys()].filter((path) => !augments(path))
  const groups = [shared, ...[...placed.keys()].filter(augments).map((path) => [path])]
  const host = ts.createCompilerHost(options)
  const cache = new Map<string, ts.SourceFile | undefined>()
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, version, onError) => {
    if (placed.has(name)) return getSourceFile(name, version, onError)
    if (!cache.has(name)) cache.set(name, getSourceFile(name, version, onError))
    return cache.get(name)
  }
  const problems: string[] = []
  for (const group of groups) {
    const program = ts.createProgram(group, options, host)
    for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
      const file = diagnostic.file
      const origin = file === undefined ? undefined : placed.get(file.fileName)
      if (file === undefined || origin === undefined) {
        problems.push(`${file?.fileName ?? '(options)'}: ${message}`)
        continue
      }
      const { line } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
      const inBlock = line - origin.offset
      const at = inBlock < 0 ? `${where(origin.block)} (in the prelude, line ${line + 1})` : `${origin.block.file}:${origin.block.line + inBlock}`
      problems.push(`${at}: TS${diagnostic.code} ${message}`)
    }
  }
  return problems
}

/** `bash -n` for every shell block; `run`, `server` and `client` blocks really run. */
async function shellBlocks (t: Test, project: string): Promise<void> {
  const shells = blocks.filter((block) => block.lang === 'sh')
  for (const block of shells) {
    const syntax = await run('bash', ['-n', '-c', block.code], project)
    t.equal(syntax.code, 0, `${where(block)}: bash -n${syntax.code === 0 ? '' : `: ${syntax.stderr}`}`)
  }
  for (const block of shells.filter((candidate) => candidate.words.includes('run'))) {
    const dir = mkdtempSync(join(project, 'sh-'))
    const result = await run('bash', ['-e', '-c', block.code], dir)
    t.equal(result.code, 0, `${where(block)} runs${result.code === 0 ? '' : `:\n${result.stdout}\n${result.stderr}`}`)
  }
  for (const server of shells.filter((candidate) => candidate.words.includes('server'))) {
    const page = blocks.filter((block) => block.file === server.file)
    const source = page.filter((block) => block.line < server.line && block.words.some((word) => word.startsWith('file=')))
      .at(-1)
    if (source === undefined) throw new Error(`${where(server)}: no file= block before this server`)
    const later = page.filter((block) => block.line > server.line)
    const next = later.findIndex((block) => block.words.includes('server'))
    const clients = (next === -1 ? later : later.slice(0, next)).filter((block) => block.words.includes('client'))
    await t.test(`${where(server)}: the server answers${clients.length === 0 ? '' : ' its clients'}`, async (t) => {
      const port = await freePort()
      const child = spawn('bash', ['-c', server.code], {
        cwd: placeOf(project, source).dir, env: childEnv({ PORT: String(port) }), detached: true, stdio: ['ignore', 'pipe', 'pipe']
      })
      let output = ''
      child.stdout!.on('data', (chunk) => { output += chunk })
      child.stderr!.on('data', (chunk) => { output += chunk })
      t.teardown(() => stop(child))
      await waitForHttp(child, `http://127.0.0.1:${port}`, where(server), () => output)
      for (const client of clients) {
        const script = client.code.replaceAll(':3000', `:${port}`)
        const result = await run('bash', ['-c', script], project)
        const expected = [...client.code.matchAll(/#\s*(\d{3})\b/g)].map((match) => Number(match[1]))
        const printed = [...result.stdout.matchAll(/HTTP\/[\d.]+ (\d{3}) /g)].map((match) => Number(match[1]))
        t.equal(result.code, 0, `${where(client)} exits 0${result.code === 0 ? '' : `:\n${result.stderr}`}`)
        t.same(printed, expected, `${where(client)}: the statuses its comments announce\n${result.stdout}\n${output}`)
      }
    })
  }
}

t.test('json blocks parse', async (t) => {
  for (const block of blocks.filter((candidate) => candidate.lang === 'json')) {
    t.doesNotThrow(() => JSON.parse(block.code), where(block))
  }
})
