import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';

/** Users as the admin sees them: who exists and when they last signed in (never a password hash). */
export const usersProjection = defineProjection({
  name: 'admin-users',
  schema: `
    CREATE TABLE IF NOT EXISTS admin_users (
      user_id TEXT PRIMARY KEY,
      username TEXT NOT NULL,
      created_at TEXT NOT NULL,
      last_signed_in_at TEXT
    );
    CREATE INDEX IF NOT EXISTS admin_users_by_username ON admin_users (username);
  `,
  handles: ['UserCreated', 'UserSignedIn'],
  apply(event, db) {
    if (event.type === 'UserCreated') {
      sql(db, 'INSERT OR IGNORE INTO admin_users (user_id, username, created_at) VALUES (?, ?, ?)').run(event.data.userId, event.data.username, event.metadata.occurredAt);
    } else {
      sql(db, 'UPDATE admin_users SET last_signed_in_at = ? WHERE user_id = ?').run(event.metadata.occurredAt, event.data.userId);
    }
  },
});

export type AdminUser = { userId: string; username: string; createdAt: string; lastSignedInAt: string | null };
type UserRow = { user_id: string; username: string; created_at: string; last_signed_in_at: string | null };

export class UsersReadModel {
  readonly #search;
  readonly #find;

  constructor(db: ProjectionDatabase) {
    this.#search = db.prepare<[string, number, number], UserRow>(
      "SELECT * FROM admin_users WHERE username LIKE ? ESCAPE '\\' ORDER BY username LIMIT ? OFFSET ?",
    );
    this.#find = db.prepare<[string], UserRow>('SELECT * FROM admin_users WHERE user_id = ?');
  }

  /** Users whose username contains `query` (case-insensitive), by username. */
  search(query: string, limit: number, offset = 0): AdminUser[] {
    return this.#search.all(`%${escapeLike(query)}%`, limit, offset).map(toUser);
  }

  find(userId: string): AdminUser | null {
    const row = this.#find.get(userId);
    return row ? toUser(row) : null;
  }
}

function toUser(row: UserRow): AdminUser {
  return { userId: row.user_id, username: row.username, createdAt: row.created_at, lastSignedInAt: row.last_signed_in_at };
}

/** LIKE treats % and _ as wildcards: a search for "a_b" means those characters. */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
