import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/projector';

/** Users, their sessions, and recent failed sign-ins per account and per client address (for throttling). */
export const usersProjection = defineProjection({
  name: 'users',
  schema: `
    CREATE TABLE IF NOT EXISTS users (
      user_id TEXT PRIMARY KEY,
      username TEXT NOT NULL,
      password_hash TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS sessions (
      session_hash TEXT PRIMARY KEY,
      user_id TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      signed_out_at TEXT
    );
    CREATE TABLE IF NOT EXISTS sign_in_failures (
      throttle_key TEXT PRIMARY KEY,
      recent_failures TEXT NOT NULL
    );
  `,
  handles: ['UserCreated', 'UserSignedIn', 'UserSignInFailed', 'UserSignedOut'],
  apply(event, db) {
    switch (event.type) {
      case 'UserCreated':
        sql(db, 'INSERT OR IGNORE INTO users (user_id, username, password_hash, created_at) VALUES (?, ?, ?, ?)').run(
          event.data.userId,
          event.data.username,
          event.data.passwordHash,
          event.metadata.occurredAt,
        );
        return;
      case 'UserSignedIn':
        sql(db, 'INSERT OR IGNORE INTO sessions (session_hash, user_id, expires_at) VALUES (?, ?, ?)').run(event.data.sessionHash, event.data.userId, event.data.expiresAt);
        // A successful sign-in clears the account's failures; the address keeps its own.
        sql(db, 'DELETE FROM sign_in_failures WHERE throttle_key = ?').run(`account:${event.data.userId}`);
        return;
      case 'UserSignedOut':
        sql(db, 'UPDATE sessions SET signed_out_at = ? WHERE session_hash = ?').run(event.metadata.occurredAt, event.data.sessionHash);
        return;
      case 'UserSignInFailed': {
        if (event.data.reason !== 'bad_credentials') return;
        const at = Date.parse(event.metadata.occurredAt);
        recordFailure(db, `account:${event.data.userId}`, at);
        if (event.data.clientAddress) recordFailure(db, `address:${event.data.clientAddress}`, at);
        return;
      }
    }
  },
});

/** Only the latest failures matter for any sane throttling window. */
const KEPT_FAILURES = 64;

function recordFailure(db: ProjectionDatabase, key: string, at: number): void {
  const row = sql(db, 'SELECT recent_failures FROM sign_in_failures WHERE throttle_key = ?').get(key) as { recent_failures: string } | undefined;
  const failures = row ? (JSON.parse(row.recent_failures) as number[]) : [];
  failures.push(at);
  sql(db, 'INSERT OR REPLACE INTO sign_in_failures (throttle_key, recent_failures) VALUES (?, ?)').run(key, JSON.stringify(failures.slice(-KEPT_FAILURES)));
}

export type User = { userId: string; username: string; passwordHash: string; createdAt: string };
export type Session = { userId: string; username: string; expiresAt: number };

export class UsersReadModel {
  readonly #user;
  readonly #session;
  readonly #failures;

  constructor(db: ProjectionDatabase) {
    this.#user = db.prepare<[string], { user_id: string; username: string; password_hash: string; created_at: string }>('SELECT * FROM users WHERE user_id = ?');
    this.#session = db.prepare<[string], { user_id: string; username: string; expires_at: number; signed_out_at: string | null }>(
      'SELECT s.user_id, u.username, s.expires_at, s.signed_out_at FROM sessions s JOIN users u ON u.user_id = s.user_id WHERE s.session_hash = ?',
    );
    this.#failures = db.prepare<[string], { recent_failures: string }>('SELECT recent_failures FROM sign_in_failures WHERE throttle_key = ?');
  }

  user(userId: string): User | null {
    const row = this.#user.get(userId);
    return row ? { userId: row.user_id, username: row.username, passwordHash: row.password_hash, createdAt: row.created_at } : null;
  }

  /** An open session: not signed out, not expired at `nowSeconds`. */
  session(sessionHash: string, nowSeconds: number): Session | null {
    const row = this.#session.get(sessionHash);
    if (!row || row.signed_out_at !== null || row.expires_at <= nowSeconds) return null;
    return { userId: row.user_id, username: row.username, expiresAt: row.expires_at };
  }

  recentFailures(kind: 'account' | 'address', id: string): number[] {
    const row = this.#failures.get(`${kind}:${id}`);
    return row ? (JSON.parse(row.recent_failures) as number[]) : [];
  }
}
