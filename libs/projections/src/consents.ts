import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/projector';

/** Consents users gave to clients for a resource; authorization remembers them, token and MCP honour their revocation. */
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
      version INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS consents_by_user_client ON consents (user_id, client_id);
  `,
  handles: ['ConsentGranted', 'ConsentRevoked'],
  apply(event, db) {
    if (event.type === 'ConsentGranted') {
      const d = event.data;
      sql(db, `INSERT OR IGNORE INTO consents (consent_id, user_id, client_id, resource, scopes, redirect_uris_fingerprint, granted_at, version)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(d.consentId, d.userId, d.clientId, d.resource, JSON.stringify(d.scopes), d.redirectUrisFingerprint, event.metadata.occurredAt, event.position);
    } else {
      sql(db, 'UPDATE consents SET revoked_at = coalesce(revoked_at, ?), version = ? WHERE consent_id = ?').run(event.metadata.occurredAt, event.position, event.data.consentId);
    }
  },
});

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
  readonly #activeForClient;
  readonly #activeForUser;

  constructor(db: ProjectionDatabase) {
    this.#byId = db.prepare<[string], ConsentRow>('SELECT * FROM consents WHERE consent_id = ?');
    this.#activeForClient = db.prepare<[string, string], ConsentRow>(
      'SELECT * FROM consents WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL ORDER BY version',
    );
    this.#activeForUser = db.prepare<[string], ConsentRow>('SELECT * FROM consents WHERE user_id = ? AND revoked_at IS NULL ORDER BY version');
  }

  find(consentId: string): Consent | null {
    const row = this.#byId.get(consentId);
    return row ? toConsent(row) : null;
  }

  isActive(consentId: string): boolean {
    const row = this.#byId.get(consentId);
    return row !== undefined && row.revoked_at === null;
  }

  activeForClient(userId: string, clientId: string): Consent[] {
    return this.#activeForClient.all(userId, clientId).map(toConsent);
  }

  activeForUser(userId: string): Consent[] {
    return this.#activeForUser.all(userId).map(toConsent);
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
