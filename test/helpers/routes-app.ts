import Fastify, { type FastifyInstance } from 'fastify'
import jwtAuth, { hashPassword, type JwtAuthOptions, type HmacOptions } from '../../lib/index.js'
import type { RoutesOptions } from '../../lib/config/routes.js'
import { SECRET } from './app.js'

export interface StoredUser {
  id: number
  username: string
  passwordHash: string
  roles: string[]
  [profile: string]: unknown
}

export const PASSWORDS = { alice: 'alice-password', bob: 'bob-password-that-is-long' }

/** Hashed once per test file: argon2 at OWASP cost takes tens of milliseconds. */
export async function seedUsers (): Promise<StoredUser[]> {
  return [
    { id: 1, username: 'alice', passwordHash: await hashPassword(PASSWORDS.alice), roles: ['admin'] },
    { id: 2, username: 'bob', passwordHash: await hashPassword(PASSWORDS.bob), roles: ['user'] }
  ]
}

/** A fixed captcha, so tests can answer it. */
export const CAPTCHA_TEXT = 'Xk7Pq'
export const fixedCaptcha = { create: () => ({ text: CAPTCHA_TEXT, svg: '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><path d="M0 0h10v10H0z"/></svg>' }) }

export interface RoutesAppOptions {
  routes?: RoutesOptions | boolean
  options?: Partial<HmacOptions> | Record<string, unknown>
  users: StoredUser[]
  create?: boolean
  before?: (app: FastifyInstance) => Promise<void>
}

export type RoutesApp = FastifyInstance & { calls: { findByLogin: string[], updatePasswordHash: Array<[string, string]> } }

export async function buildRoutesApp ({ routes = { captcha: fixedCaptcha }, options = {}, users, create = false, before }: RoutesAppOptions): Promise<RoutesApp> {
  const app = Fastify() as unknown as RoutesApp
  const calls = { findByLogin: [] as string[], updatePasswordHash: [] as Array<[string, string]> }
  app.calls = calls
  await before?.(app)
  await app.register(jwtAuth, {
    secret: SECRET,
    routes,
    users: {
      findById: async (id: string) => users.find((user) => String(user.id) === id) ?? null,
      findByLogin: async (login: string) => {
        calls.findByLogin.push(login)
        return users.find((user) => user.username === login) ?? null
      },
      updatePasswordHash: async (id: string, passwordHash: string) => {
        calls.updatePasswordHash.push([id, passwordHash])
        const user = users.find((candidate) => String(candidate.id) === id)
        if (user !== undefined) user.passwordHash = passwordHash
      },
      ...(create
        ? {
            create: async (input: { username: string, passwordHash: string }) => {
              const user = { ...input, id: users.length + 1, roles: ['user'] } as StoredUser
              users.push(user)
              return user
            }
          }
        : {})
    },
    ...options
  } as JwtAuthOptions)
  await app.ready()
  return app
}

export async function getCaptcha (app: FastifyInstance, prefix = '/auth'): Promise<string> {
  return (await app.inject({ url: `${prefix}/captcha` })).json().captchaId
}

export async function login (app: FastifyInstance, username: string, password: string, captcha: { captchaId?: string, captcha?: string } | 'fresh' = 'fresh') {
  const answer = captcha === 'fresh' ? { captchaId: await getCaptcha(app), captcha: CAPTCHA_TEXT } : captcha
  return app.inject({ method: 'POST', url: '/auth/login', payload: { username, password, ...answer } })
}
