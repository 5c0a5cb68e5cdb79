// fastify-jwt-auth/testing: what a consumer needs to test an app that uses the
// plugin (tokens for a fake user, no database, no argon2, no Redis), and the
// conformance suites for authors of a store or of a users adapter. It loads neither argon2, ioredis
// nor svg-captcha: nothing here imports the plugin, only its decorator is used.
export { authCookies, authHeaders, type AppWithJwtAuth, type AuthCookieHeaders } from './testing/auth.js'
export { fakeUsers, type FakeUserRecord, type FakeUsers } from './testing/users.js'
export { storeConformance, type StoreConformanceOptions } from './testing/store-conformance.js'
export { checkStore } from './testing/store-subject.js'
export { usersConformance, type UsersConformanceOptions } from './testing/users-conformance.js'
export { totpCode, type TotpCodeOptions } from './testing/totp.js'
