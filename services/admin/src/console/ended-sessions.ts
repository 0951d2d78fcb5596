import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';

/**
 * Console sessions signed out before they expired. A row is needed only until its session would have expired
 * anyway: each sign-out drops those that had by its own time (the event's, so that a rebuild keeps the same rows).
 */
export const endedSessionsProjection = defineProjection({
  name: 'admin-ended-sessions',
  schema: `
    CREATE TABLE IF NOT EXISTS admin_ended_sessions (
      session_hash TEXT PRIMARY KEY,
      expires_at INTEGER NOT NULL
    );
  `,
  handles: ['AdminSessionEnded'],
  apply(event, db) {
    sql(db, 'DELETE FROM admin_ended_sessions WHERE expires_at <= ?').run(Math.floor(Date.parse(event.metadata.occurredAt) / 1000));
    sql(db, 'INSERT OR IGNORE INTO admin_ended_sessions (session_hash, expires_at) VALUES (?, ?)').run(event.data.sessionHash, event.data.expiresAt);
  },
});

export class EndedSessionsReadModel {
  readonly #find;

  constructor(db: ProjectionDatabase) {
    this.#find = db.prepare<[string], { session_hash: string }>('SELECT session_hash FROM admin_ended_sessions WHERE session_hash = ?');
  }

  isEnded(sessionHash: string): boolean {
    return this.#find.get(sessionHash) !== undefined;
  }
}
