import type { ProjectionDatabase } from '@mcp-auth/projector';

export type GrantState = 'live' | 'revoked' | 'consent_revoked' | 'expired';

/**
 * grantIsActive (libs/projections) as SQL, for listings that filter or count over many grants: grants g joined
 * to their consents k, at @now (unix seconds).
 */
export const LIVE_GRANT_SQL = 'g.revoked_at IS NULL AND k.revoked_at IS NULL AND g.expires_at > @now';

export type GrantOverview = {
  grantId: string;
  userId: string;
  username: string | null;
  clientId: string;
  clientName: string | null;
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
  resource: string;
  scopes: string;
  created_at: string;
  expires_at: number;
  revoked_at: string | null;
  revoke_reason: string | null;
  consent_revoked_at: string | null;
};

/** Grants with their user's and client's names, newest first, for the admin API and console. */
export class GrantListReadModel {
  readonly #list;

  constructor(db: ProjectionDatabase) {
    this.#list = db.prepare<{ grantId: string | null; userId: string | null; clientId: string | null; liveOnly: number; now: number; limit: number; offset: number }, Row>(
      `SELECT g.grant_id, g.user_id, u.username, g.client_id, json_extract(c.metadata, '$.client_name') AS client_name,
              g.resource, g.scopes, g.created_at, g.expires_at, g.revoked_at, g.revoke_reason, k.revoked_at AS consent_revoked_at
         FROM grants g
         LEFT JOIN consents k ON k.consent_id = g.consent_id
         LEFT JOIN admin_users u ON u.user_id = g.user_id
         LEFT JOIN clients c ON c.client_id = g.client_id
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
      resource: row.resource,
      scopes: JSON.parse(row.scopes) as string[],
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      state: row.revoked_at ? 'revoked' : row.consent_revoked_at ? 'consent_revoked' : row.expires_at <= nowSeconds ? 'expired' : 'live',
      revokedAt: row.revoked_at ?? row.consent_revoked_at,
      revokeReason: row.revoke_reason ?? (row.consent_revoked_at ? 'consent_revoked' : null),
    }));
  }
}
