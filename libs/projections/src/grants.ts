import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/projector';

/**
 * Grants (one per redeemed authorization code: a refresh-token family and its access tokens) and revoked
 * access tokens. Kept by the token service and by every MCP server, which checks a token's grant locally
 * on each call. A grant is also dead once its consent is revoked, so this projection goes with consentsProjection.
 */
export const grantsProjection = defineProjection({
  name: 'grants',
  schema: `
    CREATE TABLE IF NOT EXISTS grants (
      grant_id TEXT PRIMARY KEY,
      client_id TEXT NOT NULL,
      user_id TEXT NOT NULL,
      resource TEXT NOT NULL,
      scopes TEXT NOT NULL,
      consent_id TEXT NOT NULL,
      created_at TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      revoked_at TEXT,
      revoke_reason TEXT
    );
    CREATE INDEX IF NOT EXISTS grants_by_consent ON grants (consent_id);
    CREATE TABLE IF NOT EXISTS revoked_access_tokens (
      jti TEXT PRIMARY KEY,
      grant_id TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    );
  `,
  // Rotations change nothing a grant's holders check: every service but token passes them over unread.
  handles: ['AuthorizationCodeRedeemed', 'GrantRevoked', 'TokenRevoked'],
  apply(event, db) {
    switch (event.type) {
      case 'AuthorizationCodeRedeemed': {
        const d = event.data;
        sql(db, `INSERT OR IGNORE INTO grants (grant_id, client_id, user_id, resource, scopes, consent_id, created_at, expires_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(d.grantId, d.clientId, d.userId, d.resource, JSON.stringify(d.scopes), d.consentId, event.metadata.occurredAt, d.grantExpiresAt);
        return;
      }
      case 'GrantRevoked':
        sql(db, 'UPDATE grants SET revoked_at = coalesce(revoked_at, ?), revoke_reason = coalesce(revoke_reason, ?) WHERE grant_id = ?').run(
          event.metadata.occurredAt,
          event.data.reason,
          event.data.grantId,
        );
        return;
      case 'TokenRevoked':
        sql(db, 'INSERT OR IGNORE INTO revoked_access_tokens (jti, grant_id, expires_at) VALUES (?, ?, ?)').run(event.data.jti, event.data.grantId, event.data.expiresAt);
        return;
    }
  },
});

export type Grant = {
  grantId: string;
  clientId: string;
  userId: string;
  resource: string;
  scopes: string[];
  consentId: string;
  createdAt: string;
  expiresAt: number;
  revokedAt: string | null;
  revokeReason: string | null;
  consentRevoked: boolean;
};

type GrantRow = {
  grant_id: string;
  client_id: string;
  user_id: string;
  resource: string;
  scopes: string;
  consent_id: string;
  created_at: string;
  expires_at: number;
  revoked_at: string | null;
  revoke_reason: string | null;
  consent_revoked: number;
};

export class GrantsReadModel {
  readonly #grant;
  readonly #revokedJti;

  constructor(db: ProjectionDatabase) {
    this.#grant = db.prepare<[string], GrantRow>(
      `SELECT g.*, (c.revoked_at IS NOT NULL) AS consent_revoked
         FROM grants g LEFT JOIN consents c ON c.consent_id = g.consent_id
        WHERE g.grant_id = ?`,
    );
    this.#revokedJti = db.prepare<[string], { jti: string }>('SELECT jti FROM revoked_access_tokens WHERE jti = ?');
  }

  find(grantId: string): Grant | null {
    const row = this.#grant.get(grantId);
    if (!row) return null;
    return {
      grantId: row.grant_id,
      clientId: row.client_id,
      userId: row.user_id,
      resource: row.resource,
      scopes: JSON.parse(row.scopes) as string[],
      consentId: row.consent_id,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at,
      revokeReason: row.revoke_reason,
      consentRevoked: row.consent_revoked === 1,
    };
  }

  /**
   * Whether a grant honours an access token at `nowSeconds`: the grant is active (grantIsActive), it is the
   * token's user's and client's, and the token's jti is not revoked; with the grant's expiry, until which a
   * yes stays true unless the grants or consents projection changes. null if the grant is unknown (yet).
   */
  honours(grantId: string, jti: string, userId: string, clientId: string, nowSeconds: number): { honoured: boolean; grantExpiresAt: number } | null {
    const grant = this.find(grantId);
    if (!grant) return null;
    const honoured = grantIsActive(grant, nowSeconds) && grant.userId === userId && grant.clientId === clientId && !this.isAccessTokenRevoked(jti);
    return { honoured, grantExpiresAt: grant.expiresAt };
  }

  isAccessTokenRevoked(jti: string): boolean {
    return this.#revokedJti.get(jti) !== undefined;
  }
}

/** Whether tokens of this grant may still be honoured at `nowSeconds`. */
export function grantIsActive(grant: Grant, nowSeconds: number): boolean {
  return grant.revokedAt === null && !grant.consentRevoked && grant.expiresAt > nowSeconds;
}
