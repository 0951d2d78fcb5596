import { GRANT_FACTS_SQL, GRANT_JOINS_SQL, LIVE_GRANT_SQL } from '@mcp-auth/read-models';
import type { ProjectionDatabase } from '@mcp-auth/event-sourcing';

export type GrantState = 'live' | 'revoked' | 'expired';

export type GrantOverview = {
  grantId: string;
  userId: string;
  username: string | null;
  clientId: string;
  clientName: string | null;
  /** A document client's verified host (the client_id URL's host, whose document was fetched); null for a registration. */
  clientVerifiedHost: string | null;
  resource: string;
  scopes: string[];
  createdAt: string;
  expiresAt: number;
  state: GrantState;
  revokedAt: string | null;
  revokeReason: string | null;
};

type Row = {
  grant_id: string;
  user_id: string;
  username: string | null;
  client_id: string;
  client_name: string | null;
  client_verified_host: string | null;
  resource: string;
  scopes: string;
  created_at: string;
  expires_at: number;
  revoked_at: string | null;
  revoke_reason: string | null;
  consent_revoked_at: string | null;
  consent_revoke_reason: string | null;
  consent_revoked: number;
  client_active: number;
  client_deleted_at: string | null;
};

/** Grants with their user's and client's names, newest first, for the admin API and console. */
export class GrantListReadModel {
  readonly #list;

  constructor(db: ProjectionDatabase) {
    this.#list = db.prepare<{ grantId: string | null; userId: string | null; clientId: string | null; liveOnly: number; now: number; limit: number; offset: number }, Row>(
      `SELECT g.grant_id, g.user_id, u.username, g.client_id, json_extract(coalesce(gc.metadata, cd.metadata), '$.client_name') AS client_name, cd.verified_host AS client_verified_host,
              g.resource, g.scopes, g.created_at, g.expires_at, g.revoked_at, g.revoke_reason, k.revoked_at AS consent_revoked_at, k.revoke_reason AS consent_revoke_reason,
              ${GRANT_FACTS_SQL},
              CASE WHEN gc.status = 'deleted' THEN gc.updated_at END AS client_deleted_at
         FROM ${GRANT_JOINS_SQL}
         LEFT JOIN client_documents cd ON cd.client_id = g.client_id
         LEFT JOIN admin_users u ON u.user_id = g.user_id
        WHERE (@grantId IS NULL OR g.grant_id = @grantId)
          AND (@userId IS NULL OR g.user_id = @userId)
          AND (@clientId IS NULL OR g.client_id = @clientId)
          AND (@liveOnly = 0 OR (${LIVE_GRANT_SQL}))
        ORDER BY g.created_at DESC, g.grant_id LIMIT @limit OFFSET @offset`,
    );
  }

  list({ grantId = null, userId = null, clientId = null, liveOnly = false, nowSeconds, limit = 100, offset = 0 }: { grantId?: string | null; userId?: string | null; clientId?: string | null; liveOnly?: boolean; nowSeconds: number; limit?: number; offset?: number }): GrantOverview[] {
    return this.#list.all({ grantId, userId, clientId, liveOnly: liveOnly ? 1 : 0, now: nowSeconds, limit, offset }).map((row) => ({
      grantId: row.grant_id,
      userId: row.user_id,
      username: row.username,
      clientId: row.client_id,
      clientName: row.client_name,
      clientVerifiedHost: row.client_verified_host,
      resource: row.resource,
      scopes: JSON.parse(row.scopes) as string[],
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      ...grantState(row, nowSeconds),
    }));
  }
}

/**
 * How a grant stands, by what ended it first. A grant whose client was deleted (or registered again since), or
 * whose consent was revoked (by the user, an admin, the client's deletion), is revoked from that moment, before
 * token-policies records its GrantRevoked for the same reason.
 */
function grantState(row: Row, nowSeconds: number): Pick<GrantOverview, 'state' | 'revokedAt' | 'revokeReason'> {
  if (row.revoked_at) return { state: 'revoked', revokedAt: row.revoked_at, revokeReason: row.revoke_reason };
  if (!row.client_active) return { state: 'revoked', revokedAt: row.client_deleted_at, revokeReason: 'client_deleted' };
  if (row.consent_revoked) return { state: 'revoked', revokedAt: row.consent_revoked_at, revokeReason: row.consent_revoke_reason };
  return { state: row.expires_at <= nowSeconds ? 'expired' : 'live', revokedAt: null, revokeReason: null };
}
