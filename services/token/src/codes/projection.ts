import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';

/** Authorization codes as the token service needs them to redeem one: what it is bound to, and whether it is spent. */
export const codesProjection = defineProjection({
  name: 'codes',
  schema: `
    CREATE TABLE IF NOT EXISTS authorization_codes (
      code_hash TEXT PRIMARY KEY,
      client_id TEXT NOT NULL,
      user_id TEXT NOT NULL,
      redirect_uri TEXT NOT NULL,
      code_challenge TEXT NOT NULL,
      resource TEXT NOT NULL,
      scopes TEXT NOT NULL,
      consent_id TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      redeemed_grant_id TEXT,
      version INTEGER NOT NULL
    );
  `,
  handles: ['AuthorizationCodeIssued', 'AuthorizationCodeRedeemed'],
  apply(event, db) {
    if (event.type === 'AuthorizationCodeIssued') {
      const d = event.data;
      sql(db, `INSERT OR IGNORE INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, code_challenge, resource, scopes, consent_id, expires_at, version)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(d.codeHash, d.clientId, d.userId, d.redirectUri, d.codeChallenge, d.resource, JSON.stringify(d.scopes), d.consentId, d.expiresAt, event.position);
    } else {
      sql(db, 'UPDATE authorization_codes SET redeemed_grant_id = ?, version = ? WHERE code_hash = ?').run(event.data.grantId, event.position, event.data.codeHash);
    }
  },
});

export type AuthorizationCode = {
  codeHash: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  codeChallenge: string;
  resource: string;
  scopes: string[];
  consentId: string;
  expiresAt: number;
  redeemedGrantId: string | null;
  version: number;
};

type CodeRow = {
  code_hash: string;
  client_id: string;
  user_id: string;
  redirect_uri: string;
  code_challenge: string;
  resource: string;
  scopes: string;
  consent_id: string;
  expires_at: number;
  redeemed_grant_id: string | null;
  version: number;
};

export class CodesReadModel {
  readonly #find;

  constructor(db: ProjectionDatabase) {
    this.#find = db.prepare<[string], CodeRow>('SELECT * FROM authorization_codes WHERE code_hash = ?');
  }

  find(codeHash: string): AuthorizationCode | null {
    const row = this.#find.get(codeHash);
    if (!row) return null;
    return {
      codeHash: row.code_hash,
      clientId: row.client_id,
      userId: row.user_id,
      redirectUri: row.redirect_uri,
      codeChallenge: row.code_challenge,
      resource: row.resource,
      scopes: JSON.parse(row.scopes) as string[],
      consentId: row.consent_id,
      expiresAt: row.expires_at,
      redeemedGrantId: row.redeemed_grant_id,
      version: row.version,
    };
  }
}
