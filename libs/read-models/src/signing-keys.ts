import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';

/** Public keys of the token replicas: the token service serves them at /jwks.json, MCP servers verify with them. */
export const signingKeysProjection = defineProjection({
  name: 'signing-keys',
  schema: `
    CREATE TABLE IF NOT EXISTS signing_keys (
      kid TEXT PRIMARY KEY,
      alg TEXT NOT NULL,
      public_jwk TEXT NOT NULL,
      signs_until INTEGER NOT NULL,
      retire_after INTEGER NOT NULL,
      retired_at TEXT,
      version INTEGER NOT NULL
    );
  `,
  handles: ['SigningKeyPublished', 'SigningKeyRetired'],
  apply(event, db) {
    if (event.type === 'SigningKeyPublished') {
      const d = event.data;
      sql(db, 'INSERT OR IGNORE INTO signing_keys (kid, alg, public_jwk, signs_until, retire_after, version) VALUES (?, ?, ?, ?, ?, ?)').run(
        d.kid,
        d.alg,
        JSON.stringify(d.publicJwk),
        d.signsUntil,
        d.retireAfter,
        event.position,
      );
    } else {
      sql(db, 'UPDATE signing_keys SET retired_at = coalesce(retired_at, ?), version = ? WHERE kid = ?').run(event.metadata.occurredAt, event.position, event.data.kid);
    }
  },
});

export type PublishedKey = {
  kid: string;
  alg: 'ES256' | 'EdDSA';
  publicJwk: Record<string, unknown>;
  signsUntil: number;
  retireAfter: number;
  /** When a SigningKeyRetired was applied; null while the key is published. */
  retiredAt: string | null;
  version: number;
};

type KeyRow = { kid: string; alg: 'ES256' | 'EdDSA'; public_jwk: string; signs_until: number; retire_after: number; retired_at: string | null; version: number };

export class SigningKeysReadModel {
  readonly #find;
  readonly #all;

  constructor(db: ProjectionDatabase) {
    this.#find = db.prepare<[string], KeyRow>('SELECT * FROM signing_keys WHERE kid = ?');
    this.#all = db.prepare<[], KeyRow>('SELECT * FROM signing_keys ORDER BY version');
  }

  /** Every key ever published, retired ones included, in the order they were published. */
  all(): PublishedKey[] {
    return this.#all.all().map(toKey);
  }

  find(kid: string): PublishedKey | null {
    const row = this.#find.get(kid);
    return row ? toKey(row) : null;
  }

  /** Keys whose tokens may still be alive: published, not retired, not past their retirement time. */
  usable(nowSeconds: number): PublishedKey[] {
    return this.#all
      .all()
      .map(toKey)
      .filter((k) => k.retiredAt === null && k.retireAfter > nowSeconds);
  }

  /** Keys every token of which has expired, but not yet retired by an event. */
  dueForRetirement(nowSeconds: number): PublishedKey[] {
    return this.#all
      .all()
      .map(toKey)
      .filter((k) => k.retiredAt === null && k.retireAfter <= nowSeconds);
  }
}

function toKey(row: KeyRow): PublishedKey {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: JSON.parse(row.public_jwk) as Record<string, unknown>,
    signsUntil: row.signs_until,
    retireAfter: row.retire_after,
    retiredAt: row.retired_at,
    version: row.version,
  };
}
