import type { FastifyReply, FastifyRequest } from 'fastify'
import { checkKeys, isNameList } from '../config/check.js'
import type { PermissionsOption } from '../config/permissions.js'
import { ForbiddenError, InsufficientScopeError } from '../errors.js'
import type { AuthenticateHook, AuthUser } from '../types.js'
import { challengeReply } from './challenge.js'
import { grants } from './permissions.js'
import { checkStepUp, createStepUpCheck, STEP_UP_KEYS, type StepUpConfig, type StepUpRequirement } from './step-up.js'

/**
 * What `authorize({ ... })` requires: each list given must be met, any one of its names (all with `all`); and, with
 * `maxAge`, `amr` or `acr`, an authentication recent or strong enough (RFC 9470: 401 otherwise).
 */
export interface AuthorizeRequirement extends StepUpRequirement {
  roles?: readonly string[]
  permissions?: readonly string[]
  /** OAuth scopes of the access token's `scope` claim (RFC 9068). */
  scopes?: readonly string[]
  all?: boolean
}

export type AuthorizePredicate = (user: AuthUser, request: FastifyRequest) => boolean | Promise<boolean>

type Kind = 'roles' | 'permissions' | 'scopes'
const KINDS: Kind[] = ['roles', 'permissions', 'scopes']

/** Hooks made by authorize, and the names each requires: for the OpenAPI `security` of their routes. */
export const requiredNames = new WeakMap<object, string[]>()

// The user record's roles when it has a roles field: one that is not a list grants nothing (a bad column must
// not bring back the token's older roles); the token's roles when it has none.
function rolesOf (request: FastifyRequest): string[] {
  const userRoles = (request.user as { roles?: unknown } | null)?.roles
  const roles = userRoles === undefined ? request.auth?.claims.roles : userRoles
  return Array.isArray(roles) ? roles.filter((role): role is string => typeof role === 'string') : []
}

function scopesOf (request: FastifyRequest): string[] {
  const scope = request.auth?.claims.scope
  return typeof scope === 'string' ? scope.split(' ').filter((name) => name !== '') : []
}

function checkNames (names: unknown, path: string): readonly string[] | undefined {
  if (names === undefined) return undefined
  // Required names go into the challenge's scope attribute: scope tokens only.
  if (!isNameList(names)) {
    throw new TypeError(`${path} must be a non-empty array of names without spaces, quotes or backslashes`)
  }
  return names as readonly string[]
}

type CheckedRequirement = Pick<AuthorizeRequirement, Kind> & {
  all: boolean
  stepUp: ReturnType<typeof checkStepUp>
}

/** The requirement, checked once when the hook is made: an unknown key or a bad name is a TypeError. */
function checkRequirement (requirement: object, stepUpConfig: StepUpConfig): CheckedRequirement {
  const raise = (message: string): never => { throw new TypeError(message) }
  checkKeys(requirement, [...KINDS, ...STEP_UP_KEYS, 'all'], 'authorize', raise)
  const given = requirement as AuthorizeRequirement
  const lists = Object.fromEntries(KINDS.map((kind) => [kind, checkNames(given[kind], `authorize: ${kind}`)]))
  const stepUp = checkStepUp(given, stepUpConfig)
  if (KINDS.every((kind) => lists[kind] === undefined) && stepUp === undefined) {
    raise('authorize: give roles, permissions, scopes, maxAge, amr or acr')
  }
  if (given.all !== undefined && typeof given.all !== 'boolean') raise('authorize: all must be a boolean')
  return { ...lists, all: given.all === true, stepUp }
}

/**
 * `app.authorize`: 403 insufficient_scope unless the user meets the requirement, 401
 * insufficient_user_authentication unless the session's authentication does (authenticating first if needed).
 */
export function createAuthorize (
  { realm, permissions, ...stepUpConfig }: { realm: string, permissions: PermissionsOption } & StepUpConfig,
  authenticate: AuthenticateHook
) {
  // A missing scope is the token's (a client may get one that grants it); a role, permission or predicate is the
  // user's.
  function forbid (reply: FastifyReply, scope: string | undefined, tokenScopeOnly = false): Error {
    return challengeReply(reply, tokenScopeOnly ? new InsufficientScopeError() : new ForbiddenError(), realm, scope)
  }

  function byPredicate (predicate: AuthorizePredicate): AuthenticateHook {
    return async function authorizeByPredicate (request, reply) {
      if (request.auth === null) await authenticate(request, reply)
      if (await predicate(request.user, request) !== true) throw forbid(reply, undefined)
    }
  }

  function byRequirement (requirement: CheckedRequirement): AuthenticateHook {
    const wanted = KINDS.filter((kind) => requirement[kind] !== undefined)
    const stepUp = requirement.stepUp === undefined
      ? undefined
      : createStepUpCheck(requirement.stepUp, requirement.all, stepUpConfig)
    const scope = wanted.flatMap((kind) => requirement[kind]!).join(' ')
    const heldBy: Record<Kind, (request: FastifyRequest) => (name: string) => boolean> = {
      roles: (request) => { const held = rolesOf(request); return (name) => held.includes(name) },
      permissions: (request) => grants(permissions, rolesOf(request), request.user),
      scopes: (request) => { const held = scopesOf(request); return (name) => held.includes(name) }
    }
    return async function authorizeRequirement (request, reply) {
      // Safe on its own: a route guarded only by authorize still authenticates.
      if (request.auth === null) await authenticate(request, reply)
      const unmet = wanted.filter((kind) => {
        const holds = heldBy[kind](request)
        const names = requirement[kind]!
        return !(requirement.all ? names.every(holds) : names.some(holds))
      })
      if (unmet.length > 0) throw forbid(reply, scope, unmet.every((kind) => kind === 'scopes'))
      // After the 403s: a new authentication would not give what they miss. Reads claims already verified.
      const insufficient = stepUp?.(request.auth!)
      if (insufficient !== undefined) throw challengeReply(reply, insufficient, realm)
    }
  }

  return function authorize (...args: unknown[]): AuthenticateHook {
    const [first] = args
    let hook: AuthenticateHook
    let names: string[] = []
    if (typeof first === 'function' && args.length === 1) {
      hook = byPredicate(first as AuthorizePredicate)
    } else if (typeof first === 'object' && first !== null && !Array.isArray(first) && args.length === 1) {
      const requirement = checkRequirement(first, stepUpConfig)
      names = KINDS.flatMap((kind) => requirement[kind] ?? [])
      hook = byRequirement(requirement)
    } else {
      if (!isNameList(args)) {
        throw new TypeError('authorize: give one or more roles, each a string without spaces, quotes or backslashes')
      }
      const roles = args as string[]
      names = [...roles]
      hook = byRequirement({ roles, all: false, stepUp: undefined })
    }
    requiredNames.set(hook, names)
    return hook
  }
}
