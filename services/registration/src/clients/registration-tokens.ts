import { hashSecret } from '@mcp-auth/oauth';
import { ChangeScopedMemo, clientsProjection, type ChangeStamps } from '@mcp-auth/read-models';
import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';

/**
 * Hashes of the registration access tokens (RFC 7592) of each client: one per registrant, since a public
 * client registered again with identical metadata gives each registrant a token of its own. Only this
 * service reads them; the clients projection the other services share leaves them out.
 */
export const registrationTokensProjection = defineProjection({
  name: 'registration-tokens',
  schema: `
    CREATE TABLE IF NOT EXISTS client_registration_tokens (
      client_id TEXT NOT NULL,
      token_hash TEXT NOT NULL,
      PRIMARY KEY (client_id, token_hash)
    );
    CREATE TABLE IF NOT EXISTS client_registration_tokens_deleted (client_id TEXT PRIMARY KEY);
  `,
  handles: ['ClientRegistered', 'ClientReregistered', 'SharedClientReregistered', 'ClientDeleted', 'ClientExpired'],
  apply(event, db) {
    switch (event.type) {
      case 'ClientRegistered':
        // A client id is registered afresh only while free (never used, or deleted): no earlier token survives.
        sql(db, 'DELETE FROM client_registration_tokens WHERE client_id = ?').run(event.data.clientId);
        sql(db, 'DELETE FROM client_registration_tokens_deleted WHERE client_id = ?').run(event.data.clientId);
        sql(db, 'INSERT OR IGNORE INTO client_registration_tokens (client_id, token_hash) VALUES (?, ?)').run(event.data.clientId, event.data.registrationTokenHash);
        return;
      case 'ClientReregistered':
      case 'SharedClientReregistered':
        // A re-registration racing a deletion may land after it: the deleted client gets no new token.
        sql(
          db,
          `INSERT OR IGNORE INTO client_registration_tokens (client_id, token_hash)
           SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM client_registration_tokens_deleted WHERE client_id = ?)`,
        ).run(event.data.clientId, event.data.registrationTokenHash, event.data.clientId);
        return;
      case 'ClientDeleted':
      case 'ClientExpired':
        sql(db, 'DELETE FROM client_registration_tokens WHERE client_id = ?').run(event.data.clientId);
        sql(db, 'INSERT OR IGNORE INTO client_registration_tokens_deleted (client_id) VALUES (?)').run(event.data.clientId);
        return;
    }
  },
});

/** Enough to hold every shared client a deployment is likely to see in use between two changes of the clients projection. */
const REMEMBERED_SHARED_CLIENTS = 10_000;

export class RegistrationTokensReadModel {
  readonly #holds;
  readonly #registrants;
  /** Clients known to be shared while the clients projection stays the same (see isShared). */
  readonly #knownShared: ChangeScopedMemo<string, true> | null;

  constructor(db: ProjectionDatabase, stamps: ChangeStamps | null = null) {
    this.#knownShared = stamps ? new ChangeScopedMemo(stamps, clientsProjection.name, REMEMBERED_SHARED_CLIENTS) : null;
    this.#holds = db.prepare<[string, string], { found: number }>('SELECT 1 AS found FROM client_registration_tokens WHERE client_id = ? AND token_hash = ?');
    this.#registrants = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM (SELECT 1 FROM client_registration_tokens WHERE client_id = ? LIMIT 2)');
  }

  /**
   * Whether the token is one of the client's registration access tokens: looked up by its hash, as refresh
   * tokens are. A shared public client gains a token at every re-registration (every connection of every
   * install), so reading and comparing all of them made each management request cost as much as their number.
   */
  holds(clientId: string, token: string): boolean {
    return this.#holds.get(clientId, hashSecret(token)) !== undefined;
  }

  /**
   * How many registrants hold a token for the client, counted up to 2: all that sharing needs to know. The
   * second one's token comes with ClientReregistered on the client's subject, so a read made current with
   * that subject counts it.
   */
  registrantsUpToTwo(clientId: string): number {
    return this.#registrants.get(clientId)?.n ?? 0;
  }

  /**
   * Whether the client has more than one registrant. Asked at every registration, and a shared client stays
   * shared until it ends (deleted, expired, or registered afresh), which changes the clients projection: a
   * client found shared is remembered until then, without a query per registration.
   */
  isShared(clientId: string): boolean {
    const known = this.#knownShared?.current();
    if (known?.has(clientId)) return true;
    const shared = this.registrantsUpToTwo(clientId) > 1;
    if (shared) known?.set(clientId, true);
    return shared;
  }
}
