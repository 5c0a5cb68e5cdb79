// fastify-jwt-auth/kysely: users in your own database through Kysely (an optional peer dependency, loaded only by
// this entry), with the migrations of its tables and a dialect for node:sqlite.
export * from './adapters/kysely/index.js'
