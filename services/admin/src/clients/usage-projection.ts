import type { ClientMetadata } from '@mcp-auth/contracts';
import { GRANT_JOINS_SQL, LIVE_GRANT_SQL } from '@mcp-auth/read-models';
import { defineBatchProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';
import { escapeLike } from '../users/projection.ts';

/**
 * When each client was last used: by an agent re-registering (it does so on every connection), asking for
 * consent or a code, redeeming, refreshing, or calling a tool. Idle-client reaping and the console read it.
 * Applied per batch: an agent's tool calls arrive together, and its row is written once for all of them.
 */
export const clientUsageProjection = defineBatchProjection({
  name: 'client-usage',
  schema: `
    CREATE TABLE IF NOT EXISTS client_usage (
      client_id TEXT PRIMARY KEY,
      last_used_at TEXT NOT NULL
    );
  `,
  handles: ['ClientReregistered', 'SharedClientReregistered', 'ConsentGranted', 'AuthorizationCodeIssued', 'AuthorizationCodeRedeemed', 'RefreshTokenRotated', 'ToolInvoked'],
  applyBatch(events, db) {
    const latest = new Map<string, string>();
    for (const { data, metadata } of events) {
      if (!data.clientId) continue;
      const known = latest.get(data.clientId);
      if (known === undefined || metadata.occurredAt > known) latest.set(data.clientId, metadata.occurredAt);
    }
    const upsert = sql(
      db,
      `INSERT INTO client_usage (client_id, last_used_at) VALUES (?, ?)
       ON CONFLICT (client_id) DO UPDATE SET last_used_at = max(last_used_at, excluded.last_used_at)`,
    );
    for (const [clientId, usedAt] of latest) upsert.run(clientId, usedAt);
  },
});

export type ClientOverview = {
  clientId: string;
  clientName: string | null;
  /** A registration (RFC 7591), or a metadata document whose URL is the client_id: the latter has nothing to delete or expire. */
  source: 'registration' | 'document';
  /** The host that serves a document client's metadata, verified by fetching it; null for a registration. */
  verifiedHost: string | null;
  status: 'active' | 'deleted';
  authMethod: string;
  redirectUris: string[];
  registeredAt: string;
  /** The latest use, or the registration if it was never used. */
  lastUsedAt: string;
  liveGrants: number;
};

type OverviewRow = {
  client_id: string;
  verified_host: string | null;
  status: 'active' | 'deleted';
  metadata: string;
  registered_at: string;
  last_used_at: string;
  live_grants: number;
};

const LIVE_GRANTS = `(SELECT count(*) FROM ${GRANT_JOINS_SQL} WHERE g.client_id = c.client_id AND ${LIVE_GRANT_SQL})`;
/**
 * Both kinds of client as rows of one shape: registrations, and documents (first recorded = registered; a document
 * client is active for as long as its document is recorded, and never deleted).
 */
const CLIENT_ROWS = `SELECT client_id, status, metadata, registered_at, NULL AS verified_host FROM clients
                     UNION ALL
                     SELECT client_id, 'active' AS status, metadata, first_recorded_at AS registered_at, verified_host FROM client_documents`;
const OVERVIEW = `SELECT c.client_id, c.verified_host, c.status, c.metadata, c.registered_at,
                         max(c.registered_at, coalesce(u.last_used_at, c.registered_at)) AS last_used_at,
                         ${LIVE_GRANTS} AS live_grants
                    FROM (${CLIENT_ROWS}) c LEFT JOIN client_usage u ON u.client_id = c.client_id`;

/** Clients with their last use and live grants, for the admin API, the console and the reaper. */
export class ClientUsageReadModel {
  readonly #search;
  readonly #find;
  readonly #idle;

  constructor(db: ProjectionDatabase) {
    this.#search = db.prepare<{ q: string; status: string; now: number; limit: number; offset: number }, OverviewRow>(
      `${OVERVIEW}
        WHERE (@status = 'any' OR c.status = @status)
          AND (c.client_id LIKE @q ESCAPE '\\' OR coalesce(json_extract(c.metadata, '$.client_name'), '') LIKE @q ESCAPE '\\' OR coalesce(c.verified_host, '') LIKE @q ESCAPE '\\')
        ORDER BY last_used_at DESC, c.client_id LIMIT @limit OFFSET @offset`,
    );
    this.#find = db.prepare<{ clientId: string; now: number }, OverviewRow>(`${OVERVIEW} WHERE c.client_id = @clientId`);
    this.#idle = db.prepare<{ cutoff: string; now: number; limit: number }, OverviewRow>(
      // Registrations only: a document client has no registration to expire (and its id is no subject token).
      `SELECT * FROM (${OVERVIEW} WHERE c.status = 'active' AND c.verified_host IS NULL) WHERE last_used_at < @cutoff AND live_grants = 0 ORDER BY last_used_at LIMIT @limit`,
    );
  }

  search({ query = '', status = 'active', limit = 50, offset = 0, nowSeconds }: { query?: string; status?: 'active' | 'deleted' | 'any'; limit?: number; offset?: number; nowSeconds: number }): ClientOverview[] {
    return this.#search.all({ q: `%${escapeLike(query)}%`, status, now: nowSeconds, limit, offset }).map(toOverview);
  }

  find(clientId: string, nowSeconds: number): ClientOverview | null {
    const row = this.#find.get({ clientId, now: nowSeconds });
    return row ? toOverview(row) : null;
  }

  /** Active clients with no live grant whose last use is before `cutoff`: the reaper's candidates. */
  idleSince(cutoff: Date, nowSeconds: number, limit: number): ClientOverview[] {
    return this.#idle.all({ cutoff: cutoff.toISOString(), now: nowSeconds, limit }).map(toOverview);
  }
}

function toOverview(row: OverviewRow): ClientOverview {
  const metadata = JSON.parse(row.metadata) as ClientMetadata;
  return {
    clientId: row.client_id,
    clientName: metadata.client_name ?? null,
    source: row.verified_host === null ? 'registration' : 'document',
    verifiedHost: row.verified_host,
    status: row.status,
    authMethod: metadata.token_endpoint_auth_method,
    redirectUris: metadata.redirect_uris,
    registeredAt: row.registered_at,
    lastUsedAt: row.last_used_at,
    liveGrants: row.live_grants,
  };
}
