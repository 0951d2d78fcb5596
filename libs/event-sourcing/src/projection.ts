import type Database from 'better-sqlite3';
import type { DomainEvent, EventType, RecordedEvent } from '@mcp-auth/contracts';

export type ProjectionDatabase = Database.Database;

/**
 * A projection is a small function from events to SQL. It must be deterministic: it may read only
 * the events and its own tables (never the clock), so that a rebuild from sequence 1 equals the live one.
 */
type ProjectionBase = {
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
};

/** Applies each event as it comes. */
export type EventProjection = ProjectionBase & {
  apply(event: RecordedEvent<DomainEvent>, db: ProjectionDatabase): void;
  applyBatch?: never;
};

/**
 * Applies events in groups (consecutive events of one batch, in its transaction): for a projection whose rows
 * many events would each rewrite, so that each row is written once per group, or that writes many rows at once.
 */
export type BatchProjection = ProjectionBase & {
  applyBatch(events: readonly RecordedEvent<DomainEvent>[], db: ProjectionDatabase): void;
  apply?: never;
};

export type Projection = EventProjection | BatchProjection;

type Definition<Types extends readonly EventType[]> = {
  name: string;
  schema: string;
  queryIndexes?: string;
  handles: Types;
};
type EventsOf<Types extends readonly EventType[]> = RecordedEvent<Extract<DomainEvent, { type: Types[number] }>>;

export function defineProjection<const Types extends readonly EventType[]>(
  projection: Definition<Types> & { apply(event: EventsOf<Types>, db: ProjectionDatabase): void },
): EventProjection {
  return projection as unknown as EventProjection;
}

export function defineBatchProjection<const Types extends readonly EventType[]>(
  projection: Definition<Types> & { applyBatch(events: readonly EventsOf<Types>[], db: ProjectionDatabase): void },
): BatchProjection {
  return projection as unknown as BatchProjection;
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
