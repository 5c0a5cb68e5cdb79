// A trusted issuer for the tests: its keys (jose), a JWKS endpoint on loopback that counts its fetches and can
// misbehave, tokens it mints, and an app that trusts it.
import { randomUUID, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'
import jwtAuth, { type JwtAuthOptions } from '../../lib/index.js'
import { bearer, SECRET, USERS } from './app.js'

export const IDP = 'https://idp.example.com/realms/test'
export const API = 'api://orders'

export interface IssuerKey { kid: string, alg: string, privateKey: CryptoKey | KeyObject, jwk: JWK }

export async function issuerKey (alg = 'RS256', kid: string = randomUUID()): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  return { kid, alg, privateKey, jwk: { ...await exportJWK(publicKey), kid, alg, use: 'sig' } }
}

export type Mode = 'ok' | 'hang' | 'error' | 'garbage' | 'huge' | 'huge-chunked' | 'redirect'
export type T = { teardown: (fn: () => unknown) => void }

const MEBIBYTE = 1024 * 1024

/** A JWKS endpoint on 127.0.0.1: what it serves, how it answers, and how many times it was asked. */
export async function jwksServer (t: T, keys: IssuerKey[] = []) {
  const state = { keys: keys.map((key) => key.jwk) as unknown[], mode: 'ok' as Mode, fetches: 0, redirected: 0, body: undefined as string | undefined }
  const server: Server = createServer((request, response) => {
    if (request.url!.endsWith('?moved')) {
      state.redirected++
      return response.end(JSON.stringify({ keys: state.keys }))
    }
    state.fetches++
    if (state.mode === 'hang') return
    if (state.mode === 'redirect') return response.writeHead(302, { location: `${request.url!}?moved` }).end()
    if (state.mode === 'error') return response.writeHead(500).end('{"error":"down"}')
    response.setHeader('content-type', 'application/json')
    const padding = ' '.repeat(MEBIBYTE)
    if (state.mode === 'huge') return response.end(`${padding}${JSON.stringify({ keys: state.keys })}`)
    if (state.mode === 'huge-chunked') {
      // No content-length: the size is only known while reading, and the server would go on sending.
      for (let i = 0; i < 4; i++) response.write(padding)
      return response.end(JSON.stringify({ keys: state.keys }))
    }
    response.end(state.mode === 'garbage' ? 'not json' : state.body ?? JSON.stringify({ keys: state.keys }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  t.teardown(close)
  return { state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/realms/test/certs`, close }
}

export interface MintOptions {
  key: IssuerKey
  claims?: Record<string, unknown>
  header?: Record<string, unknown>
  /** Valid for ten years rather than ten minutes. */
  long?: boolean
}

/** An access token of the issuer: sub 1 (alice), for the API, ten minutes. */
export async function mint ({ key, claims = {}, header = {}, long = false }: MintOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return await new SignJWT({ sub: '1', iss: IDP, aud: API, iat: now, exp: now + (long ? 10 * 365 * 86_400 : 600), scope: 'orders:read', ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
    .sign(key.privateKey)
}

export type IssuerOptions = Record<string, unknown>

export async function appFor (t: T, jwksUri: string, issuer: IssuerOptions = {}, options: Record<string, unknown> = {}) {
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: SECRET,
    issuer: 'own-api',
    users: { findById: async (id: string) => USERS.find((user) => String(user.id) === id) ?? null },
    trustedIssuers: [{ issuer: IDP, jwksUri, audience: API, algorithms: ['RS256', 'ES256'], ...issuer }],
    ...options
  } as JwtAuthOptions)
  app.get('/who', { onRequest: app.authenticate }, async (request) => ({
    user: request.user, issuer: request.auth!.issuer ?? null, claims: request.auth!.claims
  }))
  app.get('/read', { onRequest: app.authorize({ scopes: ['orders:read'] }) }, async () => ({ ok: true }))
  app.get('/mutate', { onRequest: app.authenticate }, async (request) => { request.auth!.claims.scope = 'everything'; return 'ok' })
  await app.ready()
  t.teardown(() => app.close())
  return app
}

// A 401, whichever: tap's matcher types want an Error-shaped object.
export const UNAUTHORIZED = { statusCode: 401 } as unknown as Error
export const who = async (app: FastifyInstance, token: string) => await app.inject({ url: '/who', headers: bearer(token) })
