import type { EventStore, StoredEventIdentity, StreamState } from '@mcp-auth/event-store';
import type { ProjectionDatabase } from './projection.ts';

/**
 * How far a projection has applied the stream, and which event the stream held at that position when it got
 * there: an event it applied, one of another aggregate it passed over, or (for a filtered consumer) the event
 * at the position it proved by asking NATS. Written in the transaction of the events it covers.
 */
export type Checkpoint = { position: number; event: StoredEventIdentity | null };

export function readCheckpoint(db: ProjectionDatabase): Checkpoint {
  return { position: Number(readMeta(db, 'position') ?? 0), event: readMeta(db, 'checkpoint_event') || null };
}

export function checkpointWriter(db: ProjectionDatabase): (checkpoint: Checkpoint) => void {
  const set = db.prepare('INSERT INTO projector_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  return ({ position, event }) => {
    set.run('position', String(position));
    set.run('checkpoint_event', event ?? '');
  };
}

/**
 * Why the stream no longer backs this checkpoint, or null while it does. A stream that lost its tail (a crash
 * of a NATS that acknowledges before writing, a restored copy of its store) is shorter than the checkpoint, or
 * has since written other events at the positions it lost; a projection that trusted its checkpoint would pass
 * over those as applied. Only the event at the checkpoint is compared: a stream loses a tail, never a middle.
 */
export async function whyCheckpointIsStale(db: ProjectionDatabase, store: EventStore, state: StreamState, checkpoint: Checkpoint): Promise<string | null> {
  const created = readMeta(db, 'stream_created');
  if (created !== undefined && created !== state.created) return `the stream was created again (at ${state.created}, this projection's at ${created})`;
  if (checkpoint.position === 0) return null;
  if (checkpoint.position > state.lastSequence) {
    return `the stream ends at ${state.lastSequence}, before this projection's checkpoint ${checkpoint.position}: it lost its latest events`;
  }
  if (!checkpoint.event) return `the checkpoint ${checkpoint.position} does not record which event it is (written by an earlier version)`;
  const stored = await store.eventAt(checkpoint.position);
  if (stored !== checkpoint.event) {
    return `the stream holds another event at this projection's checkpoint ${checkpoint.position}: it lost events and wrote new ones at their positions`;
  }
  return null;
}

export function rememberStream(db: ProjectionDatabase, state: StreamState): void {
  db.prepare('INSERT OR REPLACE INTO projector_meta (key, value) VALUES (?, ?)').run('stream_created', state.created);
}

/** Empties every projection table and the checkpoint: the projection is then applied again from sequence 1. */
export function resetProjection(db: ProjectionDatabase): void {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'projector_meta'")
    .all() as Array<{ name: string }>;
  db.transaction(() => {
    db.pragma('defer_foreign_keys = ON');
    for (const { name } of tables) db.prepare(`DELETE FROM "${name}"`).run();
    db.prepare("DELETE FROM projector_meta WHERE key IN ('position', 'checkpoint_event')").run();
  })();
}

export function readMeta(db: ProjectionDatabase, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM projector_meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}
