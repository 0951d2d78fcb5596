import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';
import { evolveAccount, type CountedGuess, type SignInState } from '../sign-in/decider.ts';

/**
 * Users, their sessions, the guesses counted against each account (the sign-in decider's own fold of the
 * account's sign-in subject) and recent failed sign-ins per client address (for throttling).
 */
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
    CREATE TABLE IF NOT EXISTS sign_in_accounts (
      user_id TEXT PRIMARY KEY,
      counted_guesses TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS sign_in_failures (
      throttle_key TEXT PRIMARY KEY,
      recent_failures TEXT NOT NULL
    );
  `,
  handles: ['UserCreated', 'UserPasswordRehashed', 'SignInAttemptAdmitted', 'UserSignedIn', 'UserSignInFailed', 'UserSignedOut'],
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
      case 'UserPasswordRehashed':
        sql(db, 'UPDATE users SET password_hash = ? WHERE user_id = ?').run(event.data.passwordHash, event.data.userId);
        return;
      case 'SignInAttemptAdmitted':
        countGuess(db, event);
        return;
      case 'UserSignedIn':
        sql(db, 'INSERT OR IGNORE INTO sessions (session_hash, user_id, expires_at) VALUES (?, ?, ?)').run(event.data.sessionHash, event.data.userId, event.data.expiresAt);
        // The account's failures are cleared; the address keeps its own.
        countGuess(db, event);
        return;
      case 'UserSignedOut':
        sql(db, 'UPDATE sessions SET signed_out_at = ? WHERE session_hash = ?').run(event.metadata.occurredAt, event.data.sessionHash);
        return;
      case 'UserSignInFailed': {
        if (event.data.reason !== 'bad_credentials') return;
        countGuess(db, event);
        if (event.data.clientAddress) recordFailure(db, `address:${event.data.clientAddress}`, Date.parse(event.metadata.occurredAt));
        return;
      }
    }
  },
});

type AccountEvent = Parameters<typeof evolveAccount>[1] & { metadata: { occurredAt: string } };

function countGuess(db: ProjectionDatabase, event: AccountEvent): void {
  const guesses = evolveAccount(countedGuesses(db, event.data.userId), event, Date.parse(event.metadata.occurredAt));
  sql(db, 'INSERT OR REPLACE INTO sign_in_accounts (user_id, counted_guesses) VALUES (?, ?)').run(event.data.userId, JSON.stringify(guesses));
}

function countedGuesses(db: ProjectionDatabase, userId: string): CountedGuess[] {
  const row = sql(db, 'SELECT counted_guesses FROM sign_in_accounts WHERE user_id = ?').get(userId) as { counted_guesses: string } | undefined;
  return row ? (JSON.parse(row.counted_guesses) as CountedGuess[]) : [];
}

/** Only the latest failures of an address matter for any sane throttling window. */
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
  readonly #guesses;

  constructor(db: ProjectionDatabase) {
    this.#user = db.prepare<[string], { user_id: string; username: string; password_hash: string; created_at: string }>('SELECT * FROM users WHERE user_id = ?');
    this.#session = db.prepare<[string], { user_id: string; username: string; expires_at: number; signed_out_at: string | null }>(
      'SELECT s.user_id, u.username, s.expires_at, s.signed_out_at FROM sessions s JOIN users u ON u.user_id = s.user_id WHERE s.session_hash = ?',
    );
    this.#failures = db.prepare<[string], { recent_failures: string }>('SELECT recent_failures FROM sign_in_failures WHERE throttle_key = ?');
    this.#guesses = db.prepare<[string], { counted_guesses: string }>('SELECT counted_guesses FROM sign_in_accounts WHERE user_id = ?');
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

  /** What the sign-in decider looks at for this account and client address, as far as this projection has applied. */
  signInState(userId: string, clientAddress: string): SignInState {
    const guesses = this.#guesses.get(userId);
    const failures = this.#failures.get(`address:${clientAddress}`);
    return {
      accountGuesses: guesses ? (JSON.parse(guesses.counted_guesses) as CountedGuess[]) : [],
      addressFailures: failures ? (JSON.parse(failures.recent_failures) as number[]) : [],
    };
  }
}
