import { errorResponses, loginResponse, routeSchema } from './schemas.js'

export const providerParams = {
  type: 'object',
  required: ['provider'],
  properties: { provider: { type: 'string', maxLength: 64, description: 'A provider of the oauth option' } }
} as const

const tags = ['oauth']

/** GET /oauth/:provider */
export const signInSchema = routeSchema({
  summary: 'Sign in with a provider: a redirect to it (state, PKCE S256, nonce), bound to this browser',
  tags,
  params: providerParams,
  querystring: {
    type: 'object',
    properties: { redirect_to: { type: 'string', description: 'A landing URL of oauth.allowedRedirects' } }
  },
  response: { 302: { type: 'null', description: 'To the provider' }, ...errorResponses(400, 404, 429, 502, 503) }
})

/** GET /oauth/:provider/callback */
export const callbackSchema = routeSchema({
  summary: 'Where the provider sends the browser back: a redirect to the landing URL with a one-time code',
  tags,
  params: providerParams,
  querystring: {
    type: 'object',
    properties: { state: { type: 'string' }, code: { type: 'string' }, error: { type: 'string' } }
  },
  response: {
    302: { type: 'null', description: 'To the landing URL, with ?code= (a sign-in) or ?linked= (a link)' },
    ...errorResponses(400, 401, 403, 404, 409, 429, 502, 503)
  }
})

/** POST /oauth/exchange */
export const exchangeSchema = routeSchema({
  summary: 'Spend the one-time code of a provider sign-in for a token pair (with cookies on, the cookies)',
  tags,
  body: {
    type: 'object',
    required: ['code'],
    properties: { code: { type: 'string', minLength: 1, maxLength: 128, description: 'From the landing URL' } }
  },
  response: { 200: loginResponse, ...errorResponses(400, 429, 503) }
})

const linkBody = { type: 'object', properties: { redirect_to: { type: 'string' } } } as const

/** POST /oauth/:provider/link */
export const linkSchema = routeSchema({
  summary: 'Begin linking a provider to the logged-in user: the URL to send the browser to',
  tags,
  params: providerParams,
  body: { content: { 'application/json': { schema: linkBody } } },
  response: {
    200: { type: 'object', properties: { url: { type: 'string' } } },
    ...errorResponses(400, 401, 404, 429, 502, 503)
  }
})

const identityList = {
  type: 'object',
  properties: {
    identities: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          provider: { type: 'string' },
          email: { type: 'string', nullable: true },
          emailVerified: { type: 'boolean' },
          linkedAt: { type: 'string' }
        }
      }
    }
  }
} as const

/** GET /identities */
export const identitiesSchema = routeSchema({
  summary: 'The providers linked to the logged-in user',
  tags,
  response: { 200: identityList, ...errorResponses(401, 429, 503) }
})

/** DELETE /identities/:provider */
export const unlinkSchema = routeSchema({
  summary: 'Unlink a provider from the logged-in user (never the last way to log in)',
  tags,
  params: providerParams,
  response: { 204: { type: 'null', description: 'Unlinked' }, ...errorResponses(401, 404, 409, 429, 503) }
})
