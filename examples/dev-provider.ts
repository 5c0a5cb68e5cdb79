// A DEVELOPMENT AID of the example only: an OpenID Provider (oidc-provider) the example server starts itself, so
// that "sign in with a provider" can be tried without registering an app anywhere. `npm run example:oidc` runs
// this file first, which makes a certificate authority of the example's own with openssl (the provider must be
// https://, and Node trusts the CA through NODE_EXTRA_CA_CERTS, read at start), then the example with DEV_OIDC=1.
// Its login form signs in any name with any password; `<name>@example.test` is the account's verified address, so
// signing in as alice links to the example's alice. Never run such a provider anywhere but on your own machine.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:https'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** Where the CA and the provider's certificate are kept (the npm script points NODE_EXTRA_CA_CERTS at ca.crt). */
export const devCaDir = (): string =>
  process.env.DEV_CA_DIR ?? fileURLToPath(new URL('data/dev-ca', import.meta.url))

/** A CA and a certificate for localhost and 127.0.0.1 that it signed, made once (kept for later starts). */
export function makeDevCa (dir = devCaDir()): void {
  if (['ca.crt', 'server.key', 'server.crt'].every((file) => existsSync(join(dir, file)))) return
  mkdirSync(dir, { recursive: true })
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '365',
    '-subj', '/CN=fastify-jwt-auth example development CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'])
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' +
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n')
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.crt', '-days', '365', '-extfile', 'server.ext'])
}

export interface DevProvider {
  issuer: string
  clientId: string
  clientSecret: string
  close (): Promise<void>
}

/** The provider on https://127.0.0.1:<port>, with one client: the example, called back at `redirectUri`. */
export async function startDevProvider (port: number, redirectUri: string): Promise<DevProvider> {
  const { default: Provider } = await import('oidc-provider')
  const dir = devCaDir()
  const issuer = `https://127.0.0.1:${port}`
  const client = { clientId: 'fastify-jwt-auth-example', clientSecret: 'a development secret, not a secret' }
  const provider = new Provider(issuer, {
    clients: [{
      client_id: client.clientId,
      client_secret: client.clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post'
    }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // The address in the ID token, as Google puts it there.
    conformIdTokenClaims: false,
    cookies: { keys: ['the development provider of the example'] },
    // oidc-provider's own login form: any name, any password.
    features: { devInteractions: { enabled: true } },
    async findAccount (_ctx, id) {
      return { accountId: id, claims: async () => ({ sub: id, email: `${id}@example.test`, email_verified: true }) }
    },
    // No consent screen: the example is granted what it asks.
    async loadExistingGrant (ctx) {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! })
      grant.addOIDCScope('openid email profile')
      await grant.save()
      return grant
    }
  })
  const tls = { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')) }
  const server = createServer(tls, provider.callback())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  return {
    issuer,
    ...client,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

// Run directly (first step of npm run example:oidc): the CA, before the example starts with it trusted.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) makeDevCa()
