import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';
import { documentClientSql } from './client-documents.ts';

/**
 * Grants (one per redeemed authorization code: a refresh-token family and its access tokens) and revoked
 * access tokens. Kept by the token service and by every MCP server, which checks a token's grant locally
 * on each call. A grant is also dead once its consent is revoked or its client's registration ends
 * (grantIsActive), so this projection goes with consentsProjection and clientsProjection.
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
      revoke_reason TEXT,
      -- Stream position of the AuthorizationCodeRedeemed: whether it came before or after its client's current registration.
      position INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS grants_by_consent ON grants (consent_id);
    CREATE TABLE IF NOT EXISTS revoked_access_tokens (
      jti TEXT PRIMARY KEY,
      grant_id TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    );
  `,
  queryIndexes: 'CREATE INDEX IF NOT EXISTS grants_by_client ON grants (client_id);',
  // Rotations change nothing a grant's holders check: every service but token passes them over unread.
  handles: ['AuthorizationCodeRedeemed', 'GrantRevoked', 'TokenRevoked'],
  apply(event, db) {
    switch (event.type) {
      case 'AuthorizationCodeRedeemed': {
        const d = event.data;
        sql(db, `INSERT OR IGNORE INTO grants (grant_id, client_id, user_id, resource, scopes, consent_id, created_at, expires_at, position)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(d.grantId, d.clientId, d.userId, d.resource, JSON.stringify(d.scopes), d.consentId, event.metadata.occurredAt, d.grantExpiresAt, event.position);
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
  /**
   * Its client is active and this grant was made under the client's current registration: a client deleted
   * (or expired) and registered again, even under the same client id, starts with no live grant.
   */
  clientActive: boolean;
};

/**
 * grantIsActive's facts as SQL, over GRANT_JOINS_SQL (grants g, their consent k, their client gc), so that
 * listings that filter or count many grants (LIVE_GRANT_SQL) decide as grantIsActive does.
 */
export const GRANT_JOINS_SQL = 'grants g LEFT JOIN consents k ON k.consent_id = g.consent_id LEFT JOIN clients gc ON gc.client_id = g.client_id';
const CONSENT_REVOKED_SQL = '(k.revoked_at IS NOT NULL)';
// A grant of a metadata document's client has no registration to outlive (documentClientSql).
const CLIENT_ACTIVE_SQL = `coalesce(gc.status = 'active' AND gc.registered_position < g.position, ${documentClientSql('g.client_id')})`;
/** The columns consent_revoked and client_active (0 or 1) of a grant, over GRANT_JOINS_SQL: grantIsActive's facts. */
export const GRANT_FACTS_SQL = `${CONSENT_REVOKED_SQL} AS consent_revoked, ${CLIENT_ACTIVE_SQL} AS client_active`;
/** grantIsActive as SQL over GRANT_JOINS_SQL, at @now (unix seconds). */
export const LIVE_GRANT_SQL = `g.revoked_at IS NULL AND NOT ${CONSENT_REVOKED_SQL} AND ${CLIENT_ACTIVE_SQL} AND g.expires_at > @now`;

/** Whether tokens of this grant may still be honoured at `nowSeconds`: the one rule, which LIVE_GRANT_SQL restates for listings. */
export function grantIsActive(grant: Grant, nowSeconds: number): boolean {
  return grant.revokedAt === null && !grant.consentRevoked && grant.clientActive && grant.expiresAt > nowSeconds;
}

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
  client_active: number;
};

const GRANT_COLUMNS = `g.*, ${GRANT_FACTS_SQL}`;

export class GrantsReadModel {
  readonly #grant;
  readonly #unrevokedOfConsent;
  readonly #revokedJti;

  constructor(db: ProjectionDatabase) {
    this.#grant = db.prepare<[string], GrantRow>(`SELECT ${GRANT_COLUMNS} FROM ${GRANT_JOINS_SQL} WHERE g.grant_id = ?`);
    this.#unrevokedOfConsent = db.prepare<[string, number], GrantRow>(
      `SELECT ${GRANT_COLUMNS} FROM ${GRANT_JOINS_SQL} WHERE g.consent_id = ? AND g.revoked_at IS NULL AND g.expires_at > ? ORDER BY g.position`,
    );
    this.#revokedJti = db.prepare<[string], { jti: string }>('SELECT jti FROM revoked_access_tokens WHERE jti = ?');
  }

  find(grantId: string): Grant | null {
    const row = this.#grant.get(grantId);
    return row ? toGrant(row) : null;
  }

  /** The grants made under a consent that no GrantRevoked has ended and that have not expired. */
  unrevokedOfConsent(consentId: string, nowSeconds: number): Grant[] {
    return this.#unrevokedOfConsent.all(consentId, nowSeconds).map(toGrant);
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

function toGrant(row: GrantRow): Grant {
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
    clientActive: row.client_active === 1,
  };
}
