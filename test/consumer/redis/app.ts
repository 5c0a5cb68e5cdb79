// README, "Running several instances" (TypeScript): the Redis store from fastify-jwt-auth/redis, ioredis installed
// by the app (npm install ioredis). Compiled with strict and without skipLibCheck: the package's types need none
// of ioredis' own. In a function so that a test can give the address and how long to wait for it.
import Fastify, { type FastifyInstance } from 'fastify'
import jwtAuth from 'fastify-jwt-auth'
import { redisStore, type RedisStoreOptions } from 'fastify-jwt-auth/redis'

export async function build (url: string, readyTimeout: RedisStoreOptions['readyTimeout'] = '5s'): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(jwtAuth, {
    secret: process.env.JWT_SECRET!,
    store: redisStore({ url, keyPrefix: 'consumer:', readyTimeout })
  })
  app.get('/me', { onRequest: app.authenticate }, async (request) => request.user)
  return app
}
