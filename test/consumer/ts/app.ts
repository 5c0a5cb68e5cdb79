// README, "Quick start" (TypeScript) and "TypeScript": request.user typed through the JwtAuthTypes augmentation.
// In a function so that a test can build the app with its own user lookup (`users.findById`, README "Options").
import Fastify, { type FastifyInstance } from 'fastify'
import jwtAuth, { type JwtAuthOptions } from 'fastify-jwt-auth'

export interface User { id: number, username: string, roles: string[] }

declare module 'fastify-jwt-auth' {
  interface JwtAuthTypes {
    user: User
  }
}

export async function build ({ users }: { users?: JwtAuthOptions['users'] } = {}): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(jwtAuth, { secret: process.env.JWT_SECRET!, issuer: 'my-api', audience: 'my-app', users })

  app.get('/', async () => ({ hello: 'world' }))
  app.get('/me', { onRequest: app.authenticate }, async (request) => {
    const user: User | null = request.user // typed by the augmentation
    return user
  })
  app.get('/admin', { onRequest: app.authorize('admin') }, async () => 'admins only')
  return app
}
