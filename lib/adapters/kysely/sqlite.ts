import { SqliteDialect } from 'kysely'
import type { Dialect, SqliteDatabase, SqliteStatement } from 'kysely' with { 'resolution-mode': 'import' }
import { fail } from '../../config/check.js'

/** What sqliteDialect uses of a statement of node:sqlite (`StatementSync`). */
export interface NodeSqliteStatement {
  columns (): unknown[]
  all (...parameters: unknown[]): unknown[]
  run (...parameters: unknown[]): { changes: number | bigint, lastInsertRowid: number | bigint }
  iterate (...parameters: unknown[]): Iterator<unknown>
}

/** What sqliteDialect uses of a node:sqlite database (`DatabaseSync`), typed here so that no @types/node is needed. */
export interface NodeSqliteDatabase {
  prepare (sql: string): NodeSqliteStatement
  exec (sql: string): void
  close (): void
}

interface NodeSqliteModule {
  DatabaseSync: new (path: string) => NodeSqliteDatabase
}

// Prepared statements kept per SQL text: the adapter's queries are few and repeated.
const STATEMENT_CACHE = 100

/**
 * node:sqlite, built into Node.js from 22.13 (22.5 behind --experimental-sqlite), loaded on the first
 * sqliteDialect of a file. `getBuiltinModule` is the loader (null before Node 22.3; a parameter for the tests).
 */
export function loadNodeSqlite (
  getBuiltinModule: ((id: string) => unknown) | null = process.getBuiltinModule
): NodeSqliteModule {
  let sqlite: unknown
  try {
    sqlite = getBuiltinModule?.('node:sqlite')
  } catch (error) {
    sqlite = error
  }
  if (typeof (sqlite as Partial<NodeSqliteModule> | undefined)?.DatabaseSync !== 'function') {
    throw new Error(`sqliteDialect needs node:sqlite, which Node.js ${process.version} does not have (22.13 or newer ` +
      'has it)', { cause: sqlite })
  }
  return sqlite as NodeSqliteModule
}

/** Kysely's SqliteDialect speaks better-sqlite3: statements taking an array, and knowing whether they read. */
function asKyselyDatabase (database: NodeSqliteDatabase, owned: boolean): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>()
  return {
    prepare (sql: string): SqliteStatement {
      let statement = statements.get(sql)
      if (statement !== undefined) return statement
      const prepared = database.prepare(sql)
      statement = {
        // A statement reads when it has result columns: a SELECT, a PRAGMA that answers, an INSERT ... RETURNING.
        reader: prepared.columns().length > 0,
        all: (parameters) => prepared.all(...parameters),
        run: (parameters) => prepared.run(...parameters),
        iterate: (parameters) => prepared.iterate(...parameters) as IterableIterator<unknown>
      }
      if (statements.size >= STATEMENT_CACHE) statements.delete(statements.keys().next().value!)
      statements.set(sql, statement)
      return statement
    },
    close (): void {
      statements.clear()
      // A database you passed is yours to close; one opened from a path closes with the Kysely instance.
      if (owned) database.close()
    }
  }
}

function isDatabase (value: unknown): value is NodeSqliteDatabase {
  const database = value as Partial<NodeSqliteDatabase> | null
  return typeof database === 'object' && database !== null &&
    ['prepare', 'exec', 'close'].every((name) => typeof database[name as keyof NodeSqliteDatabase] === 'function')
}

/**
 * A Kysely dialect over node:sqlite (no native addon): a file path (opened on the first query, with WAL, foreign
 * keys and a 5-second busy timeout, and closed by `db.destroy()`), `':memory:'`, or a `DatabaseSync` you opened,
 * configured and close yourself. Node.js 22 prints an ExperimentalWarning when node:sqlite loads.
 */
export function sqliteDialect (fileOrDatabase: string | NodeSqliteDatabase): Dialect {
  if (isDatabase(fileOrDatabase)) {
    return new SqliteDialect({ database: asKyselyDatabase(fileOrDatabase, false) })
  }
  if (typeof fileOrDatabase !== 'string' || fileOrDatabase === '') {
    fail('sqliteDialect: give a file path, \':memory:\' or a DatabaseSync of node:sqlite')
  }
  return new SqliteDialect({
    database: async () => {
      const database = new (loadNodeSqlite().DatabaseSync)(fileOrDatabase)
      database.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000')
      return asKyselyDatabase(database, true)
    }
  })
}
