import { fail, isObject, isScopeToken } from './check.js'

/** Role -> permission names; `*` grants every permission, `orders:*` every permission under `orders:`. */
export type PermissionsOption = Record<string, readonly string[]>

/** `permissions` option: a map from role to permission names. */
export function resolvePermissions (permissions: unknown): PermissionsOption {
  if (permissions === undefined) return {}
  if (!isObject(permissions)) fail('permissions must map roles to permission names, such as { admin: [\'*\'] }')
  for (const [role, names] of Object.entries(permissions)) {
    // Scope tokens, as authorize requires of the names it checks.
    if (!Array.isArray(names) || !names.every(isScopeToken)) {
      fail(`permissions.${role} must be an array of permission names without spaces, quotes or backslashes`)
    }
  }
  // A copy: a later change to the app's object does not change what roles grant.
  return Object.fromEntries(Object.entries(permissions).map(([role, names]) => [role, [...names as string[]]]))
}
