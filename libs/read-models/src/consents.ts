import { consentRevocationReason } from '@mcp-auth/contracts';
import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';
import { documentClientSql } from './client-documents.ts';

/**
 * Consents users gave to clients for a resource; authorization remembers them, token and MCP honour their
 * revocation. A consent stands only while its client's registration does (LIVE_CONSENT_SQL), so this projection
 * goes with clientsProjection.
 */
export const consentsProjection = defineProjection({
  name: 'consents',
  schema: `
    CREATE TABLE IF NOT EXISTS consents (
      consent_id TEXT PRIMARY KEY,
      user_id TEXT NOT NULL,
      client_id TEXT NOT NULL,
      resource TEXT NOT NULL,
      scopes TEXT NOT NULL,
      redirect_uris_fingerprint TEXT NOT NULL,
      granted_at TEXT NOT NULL,
      revoked_at TEXT,
      -- Who ended it: revoked_by_user, revoked_by_admin or client_deleted.
      revoke_reason TEXT,
      version INTEGER NOT NULL,
      -- Stream position of the ConsentGranted: whether it came before or after its client's current registration.
      granted_position INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS consents_by_user_client ON consents (user_id, client_id);
  `,
  queryIndexes: 'CREATE INDEX IF NOT EXISTS consents_by_client ON consents (client_id);',
  handles: ['ConsentGranted', 'ConsentRevoked'],
  apply(event, db) {
    if (event.type === 'ConsentGranted') {
      const d = event.data;
      sql(db, `INSERT OR IGNORE INTO consents (consent_id, user_id, client_id, resource, scopes, redirect_uris_fingerprint, granted_at, version, granted_position)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(d.consentId, d.userId, d.clientId, d.resource, JSON.stringify(d.scopes), d.redirectUrisFingerprint, event.metadata.occurredAt, event.position, event.position);
    } else {
      sql(db, 'UPDATE consents SET revoked_at = coalesce(revoked_at, ?), revoke_reason = coalesce(revoke_reason, ?), version = ? WHERE consent_id = ?').run(
        event.metadata.occurredAt,
        consentRevocationReason(event.data),
        event.position,
        event.data.consentId,
      );
    }
  },
});

/**
 * Whether consent k stands, as SQL over consents k joined to their client kc (CONSENT_JOINS_SQL): not revoked,
 * and given under the client's current registration, which is active. A client deleted (or expired) and
 * registered again, even under the same client id, starts with no consent. A metadata document's client has no
 * registration to end (documentClientSql).
 */
export const LIVE_CONSENT_SQL = `k.revoked_at IS NULL AND (kc.status = 'active' AND kc.registered_position < k.granted_position OR kc.client_id IS NULL AND ${documentClientSql('k.client_id')})`;
export const CONSENT_JOINS_SQL = 'consents k LEFT JOIN clients kc ON kc.client_id = k.client_id';

export type Consent = {
  consentId: string;
  userId: string;
  clientId: string;
  resource: string;
  scopes: string[];
  redirectUrisFingerprint: string;
  grantedAt: string;
  revokedAt: string | null;
  version: number;
};

type ConsentRow = {
  consent_id: string;
  user_id: string;
  client_id: string;
  resource: string;
  scopes: string;
  redirect_uris_fingerprint: string;
  granted_at: string;
  revoked_at: string | null;
  version: number;
};

export class ConsentsReadModel {
  readonly #byId;
  readonly #live;
  readonly #activeForClient;
  readonly #activeForUser;
  readonly #unrevokedOfClient;

  constructor(db: ProjectionDatabase) {
    this.#byId = db.prepare<[string], ConsentRow>('SELECT * FROM consents WHERE consent_id = ?');
    this.#live = db.prepare<[string], { live: number }>(`SELECT 1 AS live FROM ${CONSENT_JOINS_SQL} WHERE k.consent_id = ? AND ${LIVE_CONSENT_SQL}`);
    this.#activeForClient = db.prepare<[string, string], ConsentRow>(
      `SELECT k.* FROM ${CONSENT_JOINS_SQL} WHERE k.user_id = ? AND k.client_id = ? AND ${LIVE_CONSENT_SQL} ORDER BY k.version`,
    );
    this.#activeForUser = db.prepare<[string], ConsentRow>(`SELECT k.* FROM ${CONSENT_JOINS_SQL} WHERE k.user_id = ? AND ${LIVE_CONSENT_SQL} ORDER BY k.version`);
    this.#unrevokedOfClient = db.prepare<[string, number], ConsentRow>(
      'SELECT * FROM consents WHERE client_id = ? AND revoked_at IS NULL AND granted_position < ? ORDER BY granted_position',
    );
  }

  /** The consent in any state, or null if it was never granted. */
  find(consentId: string): Consent | null {
    const row = this.#byId.get(consentId);
    return row ? toConsent(row) : null;
  }

  /** Whether the consent stands (LIVE_CONSENT_SQL). */
  isActive(consentId: string): boolean {
    return this.#live.get(consentId) !== undefined;
  }

  activeForClient(userId: string, clientId: string): Consent[] {
    return this.#activeForClient.all(userId, clientId).map(toConsent);
  }

  activeForUser(userId: string): Consent[] {
    return this.#activeForUser.all(userId).map(toConsent);
  }

  /**
   * A client's consents granted before `position` that no ConsentRevoked has ended yet, whatever the client's
   * state: those a deletion at `position` must revoke (not the ones of a registration after it).
   */
  unrevokedOfClientBefore(clientId: string, position: number): Consent[] {
    return this.#unrevokedOfClient.all(clientId, position).map(toConsent);
  }
}

function toConsent(row: ConsentRow): Consent {
  return {
    consentId: row.consent_id,
    userId: row.user_id,
    clientId: row.client_id,
    resource: row.resource,
    scopes: JSON.parse(row.scopes) as string[],
    redirectUrisFingerprint: row.redirect_uris_fingerprint,
    grantedAt: row.granted_at,
    revokedAt: row.revoked_at,
    version: row.version,
  };
}
