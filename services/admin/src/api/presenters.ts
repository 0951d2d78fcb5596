import type { ClientOverview } from '../clients/usage-projection.ts';
import type { GrantOverview } from '../grants/grant-list.ts';
import type { AdminUser } from '../users/projection.ts';

// The admin API speaks snake_case, as OAuth and RFC 7591 documents do.

export function clientJson(c: ClientOverview) {
  return {
    client_id: c.clientId,
    client_name: c.clientName,
    source: c.source,
    verified_host: c.verifiedHost,
    status: c.status,
    token_endpoint_auth_method: c.authMethod,
    redirect_uris: c.redirectUris,
    registered_at: c.registeredAt,
    last_used_at: c.lastUsedAt,
    live_grants: c.liveGrants,
  };
}

export function grantJson(g: GrantOverview) {
  return {
    grant_id: g.grantId,
    user_id: g.userId,
    username: g.username,
    client_id: g.clientId,
    client_name: g.clientName,
    client_verified_host: g.clientVerifiedHost,
    resource: g.resource,
    scopes: g.scopes,
    created_at: g.createdAt,
    expires_at: new Date(g.expiresAt * 1000).toISOString(),
    state: g.state,
    revoked_at: g.revokedAt,
    revoke_reason: g.revokeReason,
  };
}

export function userJson(u: AdminUser) {
  return { user_id: u.userId, username: u.username, created_at: u.createdAt, last_signed_in_at: u.lastSignedInAt };
}
