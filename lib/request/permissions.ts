import type { PermissionsOption } from '../config/permissions.js'

/** Whether a granted permission covers a required one: itself, `*`, or a prefix wildcard such as `orders:*`. */
function covers (granted: string, required: string): boolean {
  if (granted === required || granted === '*') return true
  return granted.endsWith(':*') && required.startsWith(granted.slice(0, -1))
}

/**
 * What a user may do: the permissions of its roles (the `permissions` option)
 * and those of its own record (`user.permissions`, when it is a list).
 */
export function grants (permissions: PermissionsOption, roles: readonly string[], user: unknown) {
  const granted: string[] = []
  for (const role of roles) {
    if (Object.hasOwn(permissions, role)) granted.push(...permissions[role]!)
  }
  const own = (user as { permissions?: unknown } | null)?.permissions
  if (Array.isArray(own)) granted.push(...own.filter((name): name is string => typeof name === 'string'))
  return (required: string): boolean => granted.some((name) => covers(name, required))
}
