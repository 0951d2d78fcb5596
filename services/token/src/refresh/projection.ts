import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';

/**
 * Refresh tokens by hash, in generations: a normal rotation spends the whole current generation and starts
 * the next; a grace retry adds a sibling to the current generation. So a family never forks: using any
 * member of the current generation spends all of them.
 */
export const refreshTokensProjection = defineProjection({
  name: 'refresh-tokens',
  schema: `
    CREATE TABLE IF NOT EXISTS refresh_tokens (
      token_hash TEXT PRIMARY KEY,
      grant_id TEXT NOT NULL,
      generation INTEGER NOT NULL,
      spent_at TEXT
    );
    CREATE INDEX IF NOT EXISTS refresh_tokens_by_grant ON refresh_tokens (grant_id, generation);
    CREATE TABLE IF NOT EXISTS refresh_families (
      grant_id TEXT PRIMARY KEY,
      generation INTEGER NOT NULL,
      grace_retries INTEGER NOT NULL,
      -- Stream position of the last event on the grant's subject: the expected sequence of the next rotation.
      version INTEGER NOT NULL
    );
  `,
  handles: ['AuthorizationCodeRedeemed', 'RefreshTokenRotated', 'RefreshTokenReuseDetected', 'GrantRevoked', 'TokenRevoked'],
  apply(event, db) {
    const at = event.metadata.occurredAt;
    switch (event.type) {
      case 'AuthorizationCodeRedeemed':
        sql(db, 'INSERT OR IGNORE INTO refresh_tokens (token_hash, grant_id, generation) VALUES (?, ?, 1)').run(event.data.refreshTokenHash, event.data.grantId);
        // The redemption lives on the code's subject: the grant's own subject has no event yet (version 0).
        sql(db, 'INSERT OR IGNORE INTO refresh_families (grant_id, generation, grace_retries, version) VALUES (?, 1, 0, 0)').run(event.data.grantId);
        return;
      case 'RefreshTokenReuseDetected':
      case 'GrantRevoked':
      case 'TokenRevoked':
        sql(db, 'UPDATE refresh_families SET version = ? WHERE grant_id = ?').run(event.position, event.data.grantId);
        return;
    }
    if (event.data.graceRetry) {
      // A sibling in the current generation.
      const family = sql(db, 'UPDATE refresh_families SET grace_retries = grace_retries + 1, version = ? WHERE grant_id = ? RETURNING generation').get(event.position, event.data.grantId) as
        | { generation: number }
        | undefined;
      if (family) sql(db, 'INSERT OR IGNORE INTO refresh_tokens (token_hash, grant_id, generation) VALUES (?, ?, ?)').run(event.data.refreshTokenHash, event.data.grantId, family.generation);
      return;
    }
    const family = sql(db, 'UPDATE refresh_families SET generation = generation + 1, grace_retries = 0, version = ? WHERE grant_id = ? RETURNING generation').get(event.position, event.data.grantId) as
      | { generation: number }
      | undefined;
    if (!family) return;
    // The unspent tokens are exactly the previous generation: found through the (grant_id, generation) index,
    // however long the family's history.
    sql(db, 'UPDATE refresh_tokens SET spent_at = ? WHERE grant_id = ? AND generation = ?').run(at, event.data.grantId, family.generation - 1);
    sql(db, 'INSERT OR IGNORE INTO refresh_tokens (token_hash, grant_id, generation) VALUES (?, ?, ?)').run(event.data.refreshTokenHash, event.data.grantId, family.generation);
  },
});

export type RefreshToken = { tokenHash: string; grantId: string; generation: number; spentAtMs: number | null };
export type RefreshFamily = { generation: number; graceRetries: number; version: number };

export class RefreshTokensReadModel {
  readonly #token;
  readonly #family;

  constructor(db: ProjectionDatabase) {
    this.#token = db.prepare<[string], { token_hash: string; grant_id: string; generation: number; spent_at: string | null }>('SELECT * FROM refresh_tokens WHERE token_hash = ?');
    this.#family = db.prepare<[string], { generation: number; grace_retries: number; version: number }>('SELECT generation, grace_retries, version FROM refresh_families WHERE grant_id = ?');
  }

  token(tokenHash: string): RefreshToken | null {
    const row = this.#token.get(tokenHash);
    return row ? { tokenHash: row.token_hash, grantId: row.grant_id, generation: row.generation, spentAtMs: row.spent_at ? Date.parse(row.spent_at) : null } : null;
  }

  family(grantId: string): RefreshFamily | null {
    const row = this.#family.get(grantId);
    return row ? { generation: row.generation, graceRetries: row.grace_retries, version: row.version } : null;
  }
}
