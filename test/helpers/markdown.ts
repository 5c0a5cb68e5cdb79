// Reading the docs as the tests check them: fenced code blocks (with their info string and first line), relative
// links, and heading anchors as GitHub and npm compute them.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

export interface CodeBlock {
  /** The Markdown file, relative to the repository. */
  file: string
  /** Line of the block's first content line (1-based). */
  line: number
  /** The language: the first word of the info string. */
  lang: string
  /** The other words of the info string (`fragment`, `run`, `file=server.ts`, ...). */
  words: string[]
  code: string
}

export interface Link { file: string, line: number, target: string }

/** README.md and every page under docs/, relative to the repository. */
export function docFiles (root: string): string[] {
  const docs = readdirSync(join(root, 'docs'), { recursive: true })
    .map(String)
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name))
    .sort()
  return ['README.md', ...docs]
}

const FENCE = /^( *)(`{3,}|~{3,})\s*(.*)$/

/** The lines of a Markdown file outside fenced code, with their numbers, and the fenced blocks. */
export function parse (root: string, file: string): { prose: Array<{ line: number, text: string }>, blocks: CodeBlock[] } {
  const lines = readFileSync(join(root, file), 'utf8').split('\n')
  const prose: Array<{ line: number, text: string }> = []
  const blocks: CodeBlock[] = []
  for (let index = 0; index < lines.length; index++) {
    const open = FENCE.exec(lines[index]!)
    if (open === null) {
      prose.push({ line: index + 1, text: lines[index]! })
      continue
    }
    const [, indent = '', fence = '```', info = ''] = open
    const body: string[] = []
    let end = index + 1
    for (; end < lines.length; end++) {
      const candidate = lines[end]!
      if (candidate.trim().startsWith(fence[0]!.repeat(fence.length)) && candidate.trim().replace(/[`~]/g, '') === '') break
      body.push(candidate.startsWith(indent) ? candidate.slice(indent.length) : candidate.trimStart())
    }
    if (end === lines.length) throw new Error(`${file}:${index + 1}: code fence never closed`)
    const [lang = '', ...words] = info.trim().split(/\s+/).filter((word) => word !== '')
    blocks.push({ file, line: index + 2, lang, words, code: body.join('\n') + '\n' })
    index = end
  }
  return { prose, blocks }
}

/** Inline code spans removed, so that `[a](b)` shown as code is no link. */
function withoutCodeSpans (text: string): string {
  return text.replace(/(`+)(?:(?!\1).)+?\1/g, '')
}

/** Every inline link `[text](target)` of the file's prose. */
export function links (root: string, file: string): Link[] {
  const found: Link[] = []
  for (const { line, text } of parse(root, file).prose) {
    for (const match of withoutCodeSpans(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      found.push({ file, line, target: match[1]! })
    }
  }
  return found
}

/** GitHub's heading anchor (github-slugger): lower-cased, punctuation dropped, spaces to hyphens. */
export function slug (heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link: its text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-')
}

/** The anchors of a file's headings, duplicates numbered as GitHub numbers them. */
export function anchors (root: string, file: string): Set<string> {
  const seen = new Map<string, number>()
  const result = new Set<string>()
  for (const { text } of parse(root, file).prose) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text)
    if (heading === null) continue
    const base = slug(heading[1]!)
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    result.add(count === 0 ? base : `${base}-${count}`)
  }
  return result
}

export function relativeTo (root: string, path: string): string {
  return relative(root, path).split('\\').join('/')
}
