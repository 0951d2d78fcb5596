/**
 * Commands the admin service sends to the service that owns an aggregate, over NATS request/reply, instead of
 * writing that context's events itself: the owner decides and appends, so each context's subjects keep one
 * writer. Only admin may publish here, and only the owner may subscribe (in its queue group) and answer; see
 * nats-permissions.ts.
 */
export const commandSubjects = {
  deleteClient: 'commands.registration.delete-client',
  expireClient: 'commands.registration.expire-client',
  revokeGrant: 'commands.token.revoke-grant',
} as const;
