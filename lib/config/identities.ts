/** The `users` identities group: what the `oauth` option needs of the users adapter, every one of them. */
export const IDENTITY_USER_CALLBACKS = ['findByIdentity', 'linkIdentity', 'listIdentities', 'unlinkIdentity'] as const
