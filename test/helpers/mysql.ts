// MySQL/MariaDB for the MySQL dialect: the machine's server (MYSQL_URL, default root without a password on
// 127.0.0.1:3306), with a database of its own per test, dropped when the test ends.
import { randomBytes } from 'node:crypto'
import { createPool, type Pool } from 'mysql2'
import { createConnection } from 'mysql2/promise'
import type { Test } from 'tap'

const SERVER = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'

/** The URL of a new database on the MySQL server, dropped at the end of `t`. */
export async function mysqlDatabase (t: Test): Promise<string> {
  const name = `jwt_auth_${randomBytes(6).toString('hex')}`
  const admin = await createConnection(SERVER)
  await admin.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4`)
  t.teardown(async () => {
    await admin.query(`DROP DATABASE ${name}`)
    await admin.end()
  })
  return `${SERVER}/${name}`
}

/** A pool of connections to `url`, for Kysely's MysqlDialect. */
export const mysqlPool = (url: string): Pool => createPool({ uri: url, connectionLimit: 10 })
