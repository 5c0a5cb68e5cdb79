import type { FastifyInstance } from 'fastify'
import { PasskeyLastLoginError, PasskeyLoginFailedError, PasskeyNotFoundError } from '../errors.js'
import { AssertionError, assertionAmr, type Assertion } from '../factors/passkey-assertion.js'
import type { Passkeys } from '../factors/passkeys.js'
import { nowInSeconds } from '../tokens/authentication.js'
import { familyOf } from '../tokens/pairs.js'
import type { IssuableUser, SessionMetadata } from '../types.js'
import { csrfBinding, noStore, sendTokens, sessionMetadata, type RoutesContext } from './context.js'
import { hasPassword } from './current-password.js'
import {
  creationOptions, loginOptionsBody, loginVerifyBody, passkeyList, passkeyParams, registeredPasskey,
  registerVerifyBody, requestOptions
} from './passkey-schemas.js'
import { errorResponses, routeSchema, tokenPair } from './schemas.js'

const tags = ['passkeys']

/** Whether the user keeps a way to log in without this passkey: a password, another passkey, a linked identity. */
async function otherWayIn (context: RoutesContext, user: Record<string, unknown>, credentialId: string) {
  const sub = String(user.id)
  const passkeys = await context.config.users.listPasskeys!(sub)
  if (passkeys.some((passkey) => passkey.id !== credentialId)) return true
  if (context.config.oauth !== null && (await context.config.users.listIdentities!(sub)).length > 0) return true
  return await hasPassword(context, user)
}

/** POST /passkeys/register/options and /register/verify, GET /passkeys, DELETE /passkeys/:id: a logged-in user's. */
export async function passkeyAccountRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const passkeys = context.passkeys
  if (passkeys === null) return
  const { authenticate, routeConfig } = context
  // passkeys.registrationMaxAge: a recent login, checked as authorize({ maxAge }) checks it (RFC 9470).
  const maxAge = context.config.passkeys!.registrationMaxAge
  const recent = maxAge === null ? {} : { preHandler: app.authorize({ maxAge }) }

  app.post('/passkeys/register/options', {
    onRequest: authenticate,
    ...recent,
    config: routeConfig,
    schema: routeSchema({
      summary: 'Start registering a passkey: the creation options (the user\'s passkeys excluded)',
      tags,
      response: { 200: creationOptions, ...errorResponses(401, 429, 503) }
    })
  }, async (request, reply) => {
    noStore(reply)
    return await passkeys.registrationOptions(String(request.auth!.claims.sub), request.user)
  })

  app.post<{ Body: { response: unknown, name?: string } }>('/passkeys/register/verify', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({
      summary: 'Register the passkey of the creation options\' answer (one-time, of this user)',
      tags,
      body: registerVerifyBody,
      response: { 201: registeredPasskey, ...errorResponses(400, 401, 409, 413, 429, 503) }
    })
  }, async (request, reply) => {
    const { response, name } = request.body
    const passkey = await passkeys.register(String(request.auth!.claims.sub), response, name?.trim(),
      sessionMetadata(request))
    return reply.code(201).send(passkey)
  })

  app.get('/passkeys', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({
      summary: 'The logged-in user\'s passkeys (no key material)',
      tags,
      response: { 200: passkeyList, ...errorResponses(401, 429, 503) }
    })
  }, async (request) => ({ passkeys: await passkeys.list(String(request.auth!.claims.sub)) }))

  app.delete<{ Params: { id: string } }>('/passkeys/:id', {
    onRequest: authenticate,
    config: routeConfig,
    schema: routeSchema({
      summary: 'Remove a passkey of the logged-in user (never their last way to log in)',
      tags,
      params: passkeyParams,
      response: { 204: { type: 'null', description: 'Removed' }, ...errorResponses(400, 401, 404, 409, 429, 503) }
    })
  }, async (request, reply) => {
    const sub = String(request.auth!.claims.sub)
    const { id } = request.params
    const mine = await passkeys.list(sub)
    if (!mine.some((passkey) => passkey.id === id)) throw new PasskeyNotFoundError()
    if (!await otherWayIn(context, request.user as Record<string, unknown>, id)) throw new PasskeyLastLoginError()
    await passkeys.remove(sub, id, sessionMetadata(request))
    return reply.code(204).send()
  })
}

/** A verified login assertion: its user, or the login's 401 (with its event). */
async function loginUser (context: RoutesContext, passkeys: Passkeys, response: unknown, metadata: SessionMetadata) {
  let assertion: Assertion
  try {
    assertion = await passkeys.assertions.verify('login', response)
  } catch (error) {
    throw new PasskeyLoginFailedError({ cause: passkeys.assertions.failed(error, metadata) })
  }
  const { userId, id: credentialId } = assertion.passkey
  const user = await context.config.users.findById!(userId) as IssuableUser | null | undefined
  if (user == null) {
    const error = new AssertionError('unknown_user', { userId, credentialId })
    throw new PasskeyLoginFailedError({ cause: passkeys.assertions.failed(error, metadata) })
  }
  return { user, assertion }
}

/** POST /passkeys/login/options and /login/verify: a login with a passkey, without a password. */
export async function passkeyLoginRoutes (app: FastifyInstance, context: RoutesContext): Promise<void> {
  const passkeys = context.passkeys
  if (passkeys === null) return
  const { routeConfig } = context

  app.post<{ Body: { login?: string } | undefined }>('/passkeys/login/options', {
    config: { ...routeConfig, public: true },
    schema: routeSchema({
      summary: 'Start a login with a passkey: the request options (without login: any discoverable passkey)',
      tags,
      body: loginOptionsBody,
      response: { 200: requestOptions, ...errorResponses(400, 429, 503) }
    })
  }, async (request, reply) => {
    const login = request.body?.login
    const found = login === undefined ? null : await context.credentials.find(login)
    noStore(reply)
    // An unknown name gets the options of no name: any passkey, which then logs in as its own user.
    return await passkeys.assertions.options('login', found == null ? null : String(found.id))
  })

  app.post<{ Body: { response: unknown } }>('/passkeys/login/verify', {
    config: { ...routeConfig, public: true },
    schema: routeSchema({
      summary: 'Log in with the answer to the request options: the token pair, amr hwk (and user when verified)',
      tags,
      body: loginVerifyBody,
      response: { 200: tokenPair, ...errorResponses(400, 401, 413, 429, 503) }
    })
  }, async (request, reply) => {
    const metadata = sessionMetadata(request)
    const { user, assertion } = await loginUser(context, passkeys, request.body.response, metadata)
    const csrf = csrfBinding(context)
    const proofs = { amr: assertionAmr(assertion), authTime: nowInSeconds() }
    // With mfa.required, a user without a second factor is kept to its setup, as after a password; unless the
    // authenticator verified the user: the key and a PIN or biometrics are two factors already.
    const mfaSetup = proofs.amr.includes('user') ? false : await context.mfa?.needsSetup(user)
    const pair = await context.sessions.issue(user, { metadata }, { csrfHash: csrf.hash, proofs, mfaSetup })
    context.emit('passkey.login.success', {
      userId: String(user.id), credentialId: assertion.passkey.id, familyId: familyOf(pair), ...metadata
    })
    return sendTokens(context, reply, pair, csrf.token)
  })
}
