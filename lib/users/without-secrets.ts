// Fields of a user record that never leave the server, whatever the lookups return.
const SECRET_FIELDS = new Set(['passwordHash', 'password'])

/** The user as a client or the app's mailer may see it: no password, no hash. */
export function withoutSecrets (user: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(user).filter(([key]) => !SECRET_FIELDS.has(key)))
}
