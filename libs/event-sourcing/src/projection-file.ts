import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Logger } from '@mcp-auth/event-store';
import { readMeta } from './checkpoint.ts';
import { makePrivateDatabaseFile } from './private-files.ts';
import type { Projection, ProjectionDatabase } from './projection.ts';

const META_SCHEMA = `
CREATE TABLE IF NOT EXISTS projector_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projector_skipped_events (position INTEGER PRIMARY KEY, type TEXT, reason TEXT NOT NULL);
`;

/**
 * Opens a replica's projection file with the projections' tables. A file that is damaged, or was written for
 * other projections (their schema changed), holds nothing the stream does not: it is started again.
 */
export function openProjectionFile(file: string, projections: readonly Projection[], logger: Logger): ProjectionDatabase {
  const fingerprint = schemaFingerprint(projections);
  let db: ProjectionDatabase;
  try {
    db = openDatabase(file);
    const integrity = db.pragma('quick_check', { simple: true });
    if (integrity !== 'ok') throw new Error(`quick_check: ${String(integrity)}`);
  } catch (err) {
    // Projections are written without fsync (see openDatabase): after a power loss the file may be damaged.
    logger.warn({ file, err: String(err) }, 'projection file is damaged; rebuilding from sequence 1');
    removeDatabaseFiles(file);
    db = openDatabase(file);
  }
  const known = readMeta(db, 'schema');
  if (known !== undefined && known !== fingerprint) {
    logger.info({ file }, 'projection schema changed; rebuilding from sequence 1');
    db.close();
    removeDatabaseFiles(file);
    db = openDatabase(file);
  }
  db.prepare('INSERT OR REPLACE INTO projector_meta (key, value) VALUES (?, ?)').run('schema', fingerprint);
  for (const projection of projections) db.exec(projection.schema);
  return db;
}

function openDatabase(file: string): ProjectionDatabase {
  makePrivateDatabaseFile(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // A projection is a disposable copy of the stream, so it is written without fsync: commits cost a few
  // microseconds instead of stalling the event loop at every WAL checkpoint. The checkpoint commits with
  // the data, so a process crash loses nothing; a power loss may lose recent transactions (re-applied from
  // the stream) or damage the file (found by quick_check at open, and rebuilt).
  db.pragma('synchronous = OFF');
  // Batches are savepoints of a longer transaction (see GroupCommit): their undo copies stay in memory.
  db.pragma('temp_store = MEMORY');
  db.pragma('foreign_keys = ON');
  db.exec(META_SCHEMA);
  return db;
}

function schemaFingerprint(projections: readonly Projection[]): string {
  const hash = createHash('sha256');
  for (const p of projections) hash.update(`${p.name}\n${p.schema}\n${p.handles.join(',')}\n`);
  return hash.digest('base64url');
}

export function removeDatabaseFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(file + suffix)) rmSync(file + suffix);
  }
}

/**
 * Builds the indexes the read models query by. A file being filled from sequence 1 builds them once it has
 * caught up (inserting into indexed tables is slower than indexing them once); an error leaves reads correct,
 * only slower, and the next start tries again.
 */
export function buildQueryIndexes(db: ProjectionDatabase, projections: readonly Projection[], logger: Logger): void {
  const started = performance.now();
  for (const projection of projections) {
    if (!projection.queryIndexes) continue;
    try {
      db.exec(projection.queryIndexes);
    } catch (err) {
      logger.error({ err: String(err), projection: projection.name }, 'query indexes could not be built');
    }
  }
  logger.debug({ ms: Math.round(performance.now() - started) }, 'query indexes ready');
}

/** Records an event passed over unapplied, for the operator to find. */
export function recordSkippedEvent(db: ProjectionDatabase, position: number, type: string | null, reason: string): void {
  db.prepare('INSERT OR REPLACE INTO projector_skipped_events (position, type, reason) VALUES (?, ?, ?)').run(position, type, reason);
}
