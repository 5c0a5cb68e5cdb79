// A certificate authority of the test's own, made with openssl in a temporary folder: a provider (and the app)
// serve HTTPS with a certificate it signed for 127.0.0.1, and the test's process trusts it through
// NODE_EXTRA_CA_CERTS, which Node reads at start: so underTestCa runs the test file again in a child process that
// has it. TLS checks stay on.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

export interface TestTls {
  /** PEM of the server key and certificate (for 127.0.0.1 and localhost), signed by the test CA. */
  key: string
  cert: string
  /** The folder of the files. */
  dir: string
}

const openssl = (dir: string, args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }) }

function makeCa (dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=fastify-jwt-auth test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  openssl(dir, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'])
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' +
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n')
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext'])
}

/**
 * In the test's own process: makes the CA, runs this test file again in a child process that trusts it, as a
 * subtest, and resolves to undefined (the file has nothing more to do). In that child: resolves to the server's
 * key and certificate.
 */
export async function underTestCa (t: Test, file: string): Promise<TestTls | undefined> {
  const dir = process.env.FASTIFY_JWT_AUTH_TEST_CA
  if (dir !== undefined) {
    return { key: readFileSync(join(dir, 'server.key'), 'utf8'), cert: readFileSync(join(dir, 'server.crt'), 'utf8'), dir }
  }
  const made = mkdtempSync(join(tmpdir(), 'jwt-auth-test-ca-'))
  t.teardown(() => rmSync(made, { recursive: true, force: true }))
  makeCa(made)
  await t.spawn(process.execPath, [...process.execArgv, fileURLToPath(file)], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: join(made, 'ca.crt'), FASTIFY_JWT_AUTH_TEST_CA: made }
  }, 'under a test CA (NODE_EXTRA_CA_CERTS)')
  return undefined
}
