import type Database from 'better-sqlite3';
import type { DomainEvent, EventType, RecordedEvent } from '@mcp-auth/contracts';

export type ProjectionDatabase = Database.Database;

/**
 * A projection is a small function from an event to SQL. It must be deterministic: it may read only
 * the event and its own tables (never the clock), so that a rebuild from sequence 1 equals the live one.
 */
export type Projection = {
  name: string;
  /** Idempotent DDL for its tables (CREATE TABLE IF NOT EXISTS …). */
  schema: string;
  /**
   * Indexes that only reads use, never apply() (CREATE INDEX IF NOT EXISTS …). A projection built from
   * sequence 1 creates them once it has caught up: one sort of the table instead of a random B-tree insert
   * per event per index. Not part of the schema's fingerprint: a new one is added to a live file as it is.
   */
  queryIndexes?: string;
  /** The event types it applies; every other event is skipped without being parsed. */
  handles: readonly EventType[];
  apply(event: RecordedEvent<DomainEvent>, db: ProjectionDatabase): void;
};

export function defineProjection<const Types extends readonly EventType[]>(projection: {
  name: string;
  schema: string;
  queryIndexes?: string;
  handles: Types;
  apply(event: RecordedEvent<Extract<DomainEvent, { type: Types[number] }>>, db: ProjectionDatabase): void;
}): Projection {
  return projection as unknown as Projection;
}

const statementCache = new WeakMap<ProjectionDatabase, Map<string, Database.Statement>>();

/** A prepared statement, compiled once per database: projections run it for every event. */
export function sql(db: ProjectionDatabase, source: string): Database.Statement {
  let cache = statementCache.get(db);
  if (!cache) {
    cache = new Map();
    statementCache.set(db, cache);
  }
  let statement = cache.get(source);
  if (!statement) {
    statement = db.prepare(source);
    cache.set(source, statement);
  }
  return statement;
}
