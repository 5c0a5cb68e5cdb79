// A small provider of the test's own over HTTPS (a certificate of the test CA), for what a real one never does: an
// OpenID Provider whose ID tokens are wrong one way each (`idToken`), and GitHub's OAuth 2.0 endpoints and REST API
// (`/login/oauth/authorize`, `/login/oauth/access_token`, `/user`, `/user/emails`), as GitHub documents them.
// Its authorization endpoint signs in at once: it redirects back with a code.
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:https'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { freePort } from './redis.js'
import type { TestTls } from './test-ca.js'

export interface IdTokenChanges {
  claims?: Record<string, unknown>
  /** Signed by a key the JWKS does not publish. */
  unknownKey?: boolean
  /** alg: none, unsigned. */
  unsigned?: boolean
}

export interface FakeProvider {
  issuer: string
  /** What the next ID tokens change; what the next GitHub API answers are. */
  idToken: IdTokenChanges
  github: { user: unknown, emails: unknown, status: number }
  /** The token endpoint's status: 200 unless set (a 500 is a broken provider). */
  tokenStatus: number
  /** PKCE verifiers of the codes: a code is spent once, with its verifier. */
  close (): Promise<void>
}

interface Grant { challenge: string, nonce: string | undefined, clientId: string }

export async function startFakeProvider (tls: TestTls, subject = 'fake-user'): Promise<FakeProvider> {
  const port = await freePort()
  const issuer = `https://127.0.0.1:${port}`
  const { privateKey, publicKey } = await generateKeyPair('RS256')
  const other = await generateKeyPair('RS256')
  const jwk = { ...await exportJWK(publicKey), kid: 'k1', alg: 'RS256', use: 'sig' }
  const grants = new Map<string, Grant>()
  const fake: FakeProvider = {
    issuer,
    idToken: {},
    github: { user: { id: 4242, login: 'octo' }, emails: [{ email: 'octo@example.test', primary: true, verified: true }], status: 200 },
    tokenStatus: 200,
    close: async () => {}
  }

  async function idToken (grant: Grant): Promise<string> {
    const now = Math.floor(Date.now() / 1000)
    const claims = { iss: issuer, aud: grant.clientId, sub: subject, iat: now, exp: now + 300, nonce: grant.nonce, email: 'fake@example.test', email_verified: true, ...fake.idToken.claims }
    if (fake.idToken.unsigned === true) {
      const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
      return `${part({ alg: 'none' })}.${part(claims)}.`
    }
    return await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(fake.idToken.unknownKey === true ? other.privateKey : privateKey)
  }

  const json = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  }

  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const url = new URL(req.url!, issuer)
    let body = ''
    req.on('data', (chunk) => { body += chunk })
    req.on('end', () => {
      // A handler that throws is a bug of the test: its own error, not a hang.
      (async () => {
        if (url.pathname === '/.well-known/openid-configuration') {
          return json(res, 200, {
            issuer,
            authorization_endpoint: `${issuer}/authorize`,
            token_endpoint: `${issuer}/token`,
            jwks_uri: `${issuer}/jwks`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['RS256']
          })
        }
        if (url.pathname === '/jwks') return json(res, 200, { keys: [jwk] })
        if (url.pathname === '/authorize' || url.pathname === '/login/oauth/authorize') {
          const code = randomBytes(16).toString('hex')
          const params = url.searchParams
          grants.set(code, { challenge: params.get('code_challenge')!, nonce: params.get('nonce') ?? undefined, clientId: params.get('client_id')! })
          const back = new URL(params.get('redirect_uri')!)
          back.searchParams.set('code', code)
          back.searchParams.set('state', params.get('state')!)
          res.writeHead(302, { location: back.href }).end()
          return
        }
        if (url.pathname === '/token' || url.pathname === '/login/oauth/access_token') {
          if (fake.tokenStatus !== 200) return json(res, fake.tokenStatus, { error: 'server_error' })
          const form = new URLSearchParams(body)
          const grant = grants.get(form.get('code')!)
          grants.delete(form.get('code')!)
          const verifier = form.get('code_verifier') ?? ''
          if (grant === undefined || createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
            return json(res, 400, { error: 'invalid_grant' })
          }
          const tokens = { access_token: 'fake-access-token', token_type: 'bearer', expires_in: 300 }
          return json(res, 200, url.pathname === '/token' ? { ...tokens, id_token: await idToken(grant) } : tokens)
        }
        if (url.pathname === '/api/user' || url.pathname === '/api/user/emails') {
          if (req.headers.authorization !== 'Bearer fake-access-token') return json(res, 401, { message: 'Bad credentials' })
          if (fake.github.status !== 200) return json(res, fake.github.status, { message: 'no' })
          return json(res, 200, url.pathname === '/api/user' ? fake.github.user : fake.github.emails)
        }
        json(res, 404, { error: 'not_found' })
      })().catch((error: unknown) => { res.destroy(error as Error) })
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  fake.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  return fake
}
