import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';

/** Each user's notes, and usernames for whoami. A user only ever reads their own rows. */
export const notesProjection = defineProjection({
  name: 'notes',
  schema: `
    CREATE TABLE IF NOT EXISTS notes (
      note_id TEXT PRIMARY KEY,
      user_id TEXT NOT NULL,
      title TEXT NOT NULL,
      text TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS notes_by_user ON notes (user_id, created_at);
    CREATE TABLE IF NOT EXISTS usernames (user_id TEXT PRIMARY KEY, username TEXT NOT NULL);
  `,
  handles: ['NoteCreated', 'NoteDeleted', 'UserCreated'],
  apply(event, db) {
    switch (event.type) {
      case 'NoteCreated':
        sql(db, 'INSERT OR IGNORE INTO notes (note_id, user_id, title, text, created_at) VALUES (?, ?, ?, ?, ?)').run(
          event.data.noteId,
          event.data.userId,
          event.data.title,
          event.data.text,
          event.metadata.occurredAt,
        );
        return;
      case 'NoteDeleted':
        sql(db, 'DELETE FROM notes WHERE note_id = ? AND user_id = ?').run(event.data.noteId, event.data.userId);
        return;
      case 'UserCreated':
        // Only the name: the password hash in this event is of no business to the MCP server.
        sql(db, 'INSERT OR IGNORE INTO usernames (user_id, username) VALUES (?, ?)').run(event.data.userId, event.data.username);
        return;
    }
  },
});

export type Note = { noteId: string; title: string; text: string; createdAt: string };

export class NotesReadModel {
  readonly #list;
  readonly #find;
  readonly #username;

  constructor(db: ProjectionDatabase) {
    this.#list = db.prepare<[string], { note_id: string; title: string; text: string; created_at: string }>(
      'SELECT note_id, title, text, created_at FROM notes WHERE user_id = ? ORDER BY created_at, note_id',
    );
    this.#find = db.prepare<[string, string], { note_id: string }>('SELECT note_id FROM notes WHERE note_id = ? AND user_id = ?');
    this.#username = db.prepare<[string], { username: string }>('SELECT username FROM usernames WHERE user_id = ?');
  }

  list(userId: string): Note[] {
    return this.#list.all(userId).map((r) => ({ noteId: r.note_id, title: r.title, text: r.text, createdAt: r.created_at }));
  }

  owns(userId: string, noteId: string): boolean {
    return this.#find.get(noteId, userId) !== undefined;
  }

  username(userId: string): string | null {
    return this.#username.get(userId)?.username ?? null;
  }
}
