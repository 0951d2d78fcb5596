import type { ClientMetadata } from '@mcp-auth/contracts';
import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';
import { ChangeScopedMemo, type ChangeStamps } from './change-scoped-memo.ts';

/** Registered clients, as the registration, authorization and token services each see them. */
export const clientsProjection = defineProjection({
  name: 'clients',
  schema: `
    CREATE TABLE IF NOT EXISTS clients (
      client_id TEXT PRIMARY KEY,
      status TEXT NOT NULL CHECK (status IN ('active', 'deleted')),
      metadata TEXT NOT NULL,
      client_secret_hash TEXT,
      fingerprint TEXT,
      issued_at INTEGER NOT NULL,
      registered_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      version INTEGER NOT NULL,
      -- Stream position of the ClientRegistered that began the current registration. Consents and grants made
      -- before it belong to a registration deleted or expired since: they are dead, even under the same client id
      -- registered again (LIVE_CONSENT_SQL, LIVE_GRANT_SQL).
      registered_position INTEGER NOT NULL
    );
  `,
  // Not ClientReregistered: it only adds a registration access token, which only the registration service
  // reads (services/registration/src/clients/registration-tokens.ts). Agents re-register on every
  // connection, so every other service is spared an event per connection.
  handles: ['ClientRegistered', 'ClientUpdated', 'ClientDeleted', 'ClientExpired'],
  apply(event, db) {
    const at = event.metadata.occurredAt;
    switch (event.type) {
      case 'ClientRegistered': {
        const d = event.data;
        sql(db, 
          `INSERT OR REPLACE INTO clients (client_id, status, metadata, client_secret_hash, fingerprint, issued_at, registered_at, updated_at, version, registered_position)
           VALUES (?, 'active', ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(d.clientId, JSON.stringify(d.metadata), d.clientSecretHash, d.fingerprint, d.clientIdIssuedAt, at, at, event.position, event.position);
        return;
      }
      case 'ClientUpdated':
        sql(db, "UPDATE clients SET metadata = ?, fingerprint = ?, updated_at = ?, version = ? WHERE client_id = ? AND status = 'active'").run(
          JSON.stringify(event.data.metadata),
          event.data.fingerprint,
          at,
          event.position,
          event.data.clientId,
        );
        return;
      // An expired client is gone exactly as a deleted one is.
      case 'ClientDeleted':
      case 'ClientExpired':
        sql(db, "UPDATE clients SET status = 'deleted', updated_at = ?, version = ? WHERE client_id = ?").run(at, event.position, event.data.clientId);
        return;
    }
  },
});

export type RegisteredClient = {
  clientId: string;
  status: 'active' | 'deleted';
  metadata: ClientMetadata;
  clientSecretHash: string | null;
  fingerprint: string | null;
  clientIdIssuedAt: number;
  registeredAt: string;
  updatedAt: string;
  /** Stream position of the client's latest registration, update or deletion (re-registrations leave it). */
  version: number;
};

type ClientRow = {
  client_id: string;
  status: 'active' | 'deleted';
  metadata: string;
  client_secret_hash: string | null;
  fingerprint: string | null;
  issued_at: number;
  registered_at: string;
  updated_at: string;
  version: number;
};

const CACHED_CLIENTS = 10_000;

export class ClientsReadModel {
  readonly #byId;
  readonly #count;
  /** Clients as read since the clients projection last changed: every token request reads its client. */
  readonly #memo: ChangeScopedMemo<string, RegisteredClient | null> | null;

  constructor(db: ProjectionDatabase, stamps: ChangeStamps | null = null) {
    this.#memo = stamps ? new ChangeScopedMemo(stamps, clientsProjection.name, CACHED_CLIENTS) : null;
    this.#byId = db.prepare<[string], ClientRow>('SELECT * FROM clients WHERE client_id = ?');
    this.#count = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM clients WHERE status = 'active'");
  }

  /** The client in any state (including deleted), or null if it never existed. */
  find(clientId: string): RegisteredClient | null {
    return this.#memo ? this.#memo.answer(clientId, (id) => this.#read(id)) : this.#read(clientId);
  }

  #read(clientId: string): RegisteredClient | null {
    const row = this.#byId.get(clientId);
    return row ? toClient(row) : null;
  }

  /** An active client, or null. */
  active(clientId: string): RegisteredClient | null {
    const client = this.find(clientId);
    return client?.status === 'active' ? client : null;
  }

  countActive(): number {
    return this.#count.get()?.n ?? 0;
  }
}

function toClient(row: ClientRow): RegisteredClient {
  return {
    clientId: row.client_id,
    status: row.status,
    // Validated when the event was read; parsing it again on every request is pure cost.
    metadata: JSON.parse(row.metadata) as ClientMetadata,
    clientSecretHash: row.client_secret_hash,
    fingerprint: row.fingerprint,
    clientIdIssuedAt: row.issued_at,
    registeredAt: row.registered_at,
    updatedAt: row.updated_at,
    version: row.version,
  };
}
