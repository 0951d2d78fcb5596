import type { ClientMetadata, ClientMetadataDocumentData } from '@mcp-auth/contracts';
import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';
import { ChangeScopedMemo, type ChangeStamps } from './change-scoped-memo.ts';
import type { ClientsReadModel, RegisteredClient } from './clients.ts';

/**
 * Client ID metadata documents as the authorization service last recorded them: the metadata of clients whose
 * client_id is a URL. Apart from `clients`, which holds registrations (and whose reaper, deletions and ids know
 * nothing of URLs); ClientDirectory answers both. Refusals are never stored: they are not an answer to reuse.
 */
export const clientDocumentsProjection = defineProjection({
  name: 'client_documents',
  schema: `
    CREATE TABLE IF NOT EXISTS client_documents (
      client_id TEXT PRIMARY KEY,
      metadata TEXT NOT NULL,
      verified_host TEXT NOT NULL,
      localhost_only INTEGER NOT NULL,
      document_hash TEXT NOT NULL,
      fetched_at INTEGER NOT NULL,
      fresh_until INTEGER NOT NULL,
      first_recorded_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      -- Stream position of the latest Fetched or Refreshed: the sequence its subject's next append expects is read from the stream.
      version INTEGER NOT NULL
    );
  `,
  handles: ['ClientMetadataDocumentFetched', 'ClientMetadataDocumentRefreshed'],
  apply(event, db) {
    const at = event.metadata.occurredAt;
    if (event.type === 'ClientMetadataDocumentFetched') {
      const d = event.data;
      sql(db, `INSERT INTO client_documents (client_id, metadata, verified_host, localhost_only, document_hash, fetched_at, fresh_until, first_recorded_at, updated_at, version)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata, verified_host = excluded.verified_host, localhost_only = excluded.localhost_only,
                 document_hash = excluded.document_hash, fetched_at = excluded.fetched_at, fresh_until = excluded.fresh_until, updated_at = excluded.updated_at, version = excluded.version`).run(
        d.clientId, JSON.stringify(d.metadata), d.verifiedHost, d.localhostOnly ? 1 : 0, d.documentHash, d.fetchedAt, d.freshUntil, at, at, event.position,
      );
    } else {
      const d = event.data;
      sql(db, 'UPDATE client_documents SET fetched_at = ?, fresh_until = ?, updated_at = ?, version = ? WHERE client_id = ? AND document_hash = ?').run(
        d.fetchedAt, d.freshUntil, at, event.position, d.clientId, d.documentHash,
      );
    }
  },
});

/** A recorded metadata document: what the decider compares a new fetch with, and what consent and /token read. */
export type RecordedDocument = {
  clientId: string;
  metadata: ClientMetadataDocumentData;
  verifiedHost: string;
  localhostOnly: boolean;
  documentHash: string;
  fetchedAt: number;
  freshUntil: number;
  firstRecordedAt: string;
  updatedAt: string;
  version: number;
};

type DocumentRow = {
  client_id: string;
  metadata: string;
  verified_host: string;
  localhost_only: number;
  document_hash: string;
  fetched_at: number;
  fresh_until: number;
  first_recorded_at: string;
  updated_at: string;
  version: number;
};

const CACHED_DOCUMENTS = 1_000;

export class ClientDocumentsReadModel {
  readonly #byId;
  readonly #memo: ChangeScopedMemo<string, RecordedDocument | null> | null;

  constructor(db: ProjectionDatabase, stamps: ChangeStamps | null = null) {
    this.#memo = stamps ? new ChangeScopedMemo(stamps, clientDocumentsProjection.name, CACHED_DOCUMENTS) : null;
    this.#byId = db.prepare<[string], DocumentRow>('SELECT * FROM client_documents WHERE client_id = ?');
  }

  find(clientId: string): RecordedDocument | null {
    return this.#memo ? this.#memo.answer(clientId, (id) => this.#read(id)) : this.#read(clientId);
  }

  #read(clientId: string): RecordedDocument | null {
    const row = this.#byId.get(clientId);
    if (!row) return null;
    return {
      clientId: row.client_id,
      // Validated when the event was read.
      metadata: JSON.parse(row.metadata) as ClientMetadataDocumentData,
      verifiedHost: row.verified_host,
      localhostOnly: row.localhost_only === 1,
      documentHash: row.document_hash,
      fetchedAt: row.fetched_at,
      freshUntil: row.fresh_until,
      firstRecordedAt: row.first_recorded_at,
      updatedAt: row.updated_at,
      version: row.version,
    };
  }
}

/** What only a document client has: what consent shows of it, and the keys private_key_jwt would check. */
export type DocumentFacts = {
  verifiedHost: string;
  localhostOnly: boolean;
  documentHash: string;
  freshUntil: number;
  tokenEndpointAuthMethod: ClientMetadataDocumentData['token_endpoint_auth_method'];
  tokenEndpointAuthSigningAlg: string | null;
  jwks: ClientMetadataDocumentData['jwks'] | null;
  jwksUri: string | null;
};

/**
 * A client as the authorization and token services use it, whichever way it became known: a registration, or a
 * metadata document (its client_id a URL). A document client is shaped as a registered public client; `document`
 * says what else is known of it.
 */
export type DirectoryClient = RegisteredClient & { source: 'registration' | 'document'; document: DocumentFacts | null };

/** Whether a client_id names a metadata document: DCR client ids are subject tokens and never contain ':'. */
export function isDocumentClientId(clientId: string): boolean {
  return clientId.includes(':');
}

/**
 * SQL: the client of a consent or grant (its client_id in `column`) is a document client. Such a client has no
 * registration that could end; its consents and grants were made after its document was recorded, since only
 * then does the authorization service ask for consent.
 */
export function documentClientSql(column: string): string {
  return `instr(${column}, ':') > 0`;
}

/** Answers "which client is this" for both kinds, from this replica's projections. */
export class ClientDirectory {
  readonly #clients: ClientsReadModel;
  readonly #documents: ClientDocumentsReadModel;

  constructor(clients: ClientsReadModel, documents: ClientDocumentsReadModel) {
    this.#clients = clients;
    this.#documents = documents;
  }

  /** An active registered client, or a client whose document is recorded (fresh or not), or null. */
  active(clientId: string): DirectoryClient | null {
    if (isDocumentClientId(clientId)) {
      const document = this.#documents.find(clientId);
      return document ? documentClient(document) : null;
    }
    const client = this.#clients.active(clientId);
    return client ? { ...client, source: 'registration', document: null } : null;
  }
}

/**
 * The name people and tools see for a client: its self-declared name, and for a document client the host that
 * serves its document (verified by the fetch) beside it, as the consent page shows it. Null for an unnamed
 * registration.
 */
export function clientDisplayName(client: DirectoryClient): string | null {
  const name = client.metadata.client_name ?? null;
  if (!client.document) return name;
  return name ? `${name} (${client.document.verifiedHost})` : client.document.verifiedHost;
}

export function documentClient(recorded: RecordedDocument): DirectoryClient {
  const { client_id: _clientId, ...metadata } = recorded.metadata;
  const { jwks, jwks_uri, token_endpoint_auth_signing_alg } = metadata;
  return {
    clientId: recorded.clientId,
    status: 'active',
    // The document's own method and keys: token authentication checks a private_key_jwt client's assertion against them.
    metadata: metadata satisfies ClientMetadata,
    clientSecretHash: null,
    fingerprint: null,
    clientIdIssuedAt: Math.floor(Date.parse(recorded.firstRecordedAt) / 1000),
    registeredAt: recorded.firstRecordedAt,
    updatedAt: recorded.updatedAt,
    version: recorded.version,
    source: 'document',
    document: {
      verifiedHost: recorded.verifiedHost,
      localhostOnly: recorded.localhostOnly,
      documentHash: recorded.documentHash,
      freshUntil: recorded.freshUntil,
      tokenEndpointAuthMethod: recorded.metadata.token_endpoint_auth_method,
      tokenEndpointAuthSigningAlg: token_endpoint_auth_signing_alg ?? null,
      jwks: jwks ?? null,
      jwksUri: jwks_uri ?? null,
    },
  };
}
