import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/projector';

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
  handles: ['ClientRegistered', 'ClientReregistered', 'ClientDeleted', 'ClientExpired'],
  apply(event, db) {
    switch (event.type) {
      case 'ClientRegistered':
        // A client id is registered afresh only while free (never used, or deleted): no earlier token survives.
        sql(db, 'DELETE FROM client_registration_tokens WHERE client_id = ?').run(event.data.clientId);
        sql(db, 'DELETE FROM client_registration_tokens_deleted WHERE client_id = ?').run(event.data.clientId);
        sql(db, 'INSERT OR IGNORE INTO client_registration_tokens (client_id, token_hash) VALUES (?, ?)').run(event.data.clientId, event.data.registrationTokenHash);
        return;
      case 'ClientReregistered':
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

export class RegistrationTokensReadModel {
  readonly #hashes;

  constructor(db: ProjectionDatabase) {
    this.#hashes = db.prepare<[string], { token_hash: string }>('SELECT token_hash FROM client_registration_tokens WHERE client_id = ?');
  }

  /** One hash per registrant of the client. */
  hashes(clientId: string): string[] {
    return this.#hashes.all(clientId).map((r) => r.token_hash);
  }
}
