import type { Actor } from '@mcp-auth/contracts';
import { sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';
import type { AuditOutcome } from './describe.ts';

/** One line of the audit trail. */
export type AuditEntry = {
  /** The event's stream sequence: its global position, and the order of the trail. */
  position: number;
  eventId: string;
  type: string;
  /** ISO 8601, UTC, millisecond precision. */
  occurredAt: string;
  /** Who did it. */
  actor: Actor;
  /** Whom it concerns. */
  userId: string | null;
  clientId: string | null;
  grantId: string | null;
  /** The address the request that caused it came from, when it was caused by a request. */
  sourceAddress: string | null;
  requestId: string | null;
  outcome: AuditOutcome;
  /** What describe.ts allows to be shown of the event's data: never a secret, hash or token. */
  details: Record<string, unknown>;
};

/** Every filter is optional; given ones must all match. */
export type AuditFilters = {
  userId?: string;
  clientId?: string;
  grantId?: string;
  /** Any of these event types. */
  types?: readonly string[];
  actorKind?: Actor['kind'];
  outcome?: AuditOutcome;
  /** Events that occurred at or after this instant (ISO 8601). */
  since?: string;
  /** Events that occurred before this instant (ISO 8601). */
  until?: string;
};

export type AuditQuery = AuditFilters & {
  /** The nextCursor of the previous page. */
  cursor?: string;
  /** 1 to MAX_AUDIT_PAGE; DEFAULT_AUDIT_PAGE when absent. */
  limit?: number;
};

export type AuditPage = {
  /** Newest first. */
  events: AuditEntry[];
  /** Hands the next (older) page to query(); null on the last page. */
  nextCursor: string | null;
};

export const DEFAULT_AUDIT_PAGE = 50;
export const MAX_AUDIT_PAGE = 500;
const EXPORT_CHUNK = 500;

/** A filter or cursor the trail cannot be queried with (the API answers 400). */
export class InvalidAuditQuery extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAuditQuery';
  }
}

type AuditRow = {
  position: number;
  event_id: string;
  type: string;
  occurred_at: string;
  actor_kind: Actor['kind'];
  actor_id: string;
  user_id: string | null;
  client_id: string | null;
  grant_id: string | null;
  source_address: string | null;
  request_id: string | null;
  outcome: AuditOutcome;
  details: string;
};

/**
 * Reads the audit trail: filtered pages, newest first, with keyset pagination on the position (so a page
 * never repeats or skips an event while new ones arrive), and the oldest-first export.
 */
export class AuditReadModel {
  readonly #db: ProjectionDatabase;

  constructor(db: ProjectionDatabase) {
    this.#db = db;
  }

  query(query: AuditQuery = {}): AuditPage {
    const limit = pageSize(query.limit);
    const where = conditionsOf(query);
    if (query.cursor !== undefined) {
      where.clauses.push('position < ?');
      where.params.push(decodeCursor(query.cursor));
    }
    const rows = sql(this.#db, `SELECT * FROM audit_events ${whereClause(where.clauses)} ORDER BY position DESC LIMIT ?`).all(
      ...where.params,
      limit + 1,
    ) as AuditRow[];
    const more = rows.length > limit;
    const events = rows.slice(0, limit).map(entryOf);
    return { events, nextCursor: more ? encodeCursor(events[events.length - 1]!.position) : null };
  }

  /** The newest entries, for an overview (at most MAX_AUDIT_PAGE). */
  recent(limit = DEFAULT_AUDIT_PAGE): AuditEntry[] {
    return this.query({ limit: Math.max(1, Math.min(Math.trunc(limit), MAX_AUDIT_PAGE)) }).events;
  }

  /**
   * Every matching entry, oldest first, as the trail stood at this call (filters are checked here, before
   * anything is read). Read in chunks, each its own short query: the projector writes to this same
   * connection between them, and an open SQLite cursor would block it for as long as a slow download lasts.
   */
  exportRows(filters: AuditFilters = {}): Generator<AuditEntry, void, undefined> {
    const where = conditionsOf(filters);
    const upTo = this.lastPosition();
    const statement = sql(this.#db, `SELECT * FROM audit_events ${whereClause([...where.clauses, 'position > ?', 'position <= ?'])} ORDER BY position ASC LIMIT ?`);
    return (function* readChunks() {
      let after = 0;
      for (;;) {
        const rows = statement.all(...where.params, after, upTo, EXPORT_CHUNK) as AuditRow[];
        for (const row of rows) yield entryOf(row);
        if (rows.length < EXPORT_CHUNK) return;
        after = rows[rows.length - 1]!.position;
      }
    })();
  }

  /** The position of the newest entry (0 for an empty trail). */
  lastPosition(): number {
    return (sql(this.#db, 'SELECT coalesce(max(position), 0) AS last FROM audit_events').get() as { last: number }).last;
  }
}

function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_AUDIT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) {
    throw new InvalidAuditQuery(`limit must be an integer from 1 to ${MAX_AUDIT_PAGE}`);
  }
  return limit;
}

/** The SQL conditions of the filters. Instants are compared in the one text format the projection stores. */
function conditionsOf(filters: AuditFilters): { clauses: string[]; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const equal = (column: string, value: string | undefined) => {
    if (value === undefined) return;
    clauses.push(`${column} = ?`);
    params.push(value);
  };
  equal('user_id', filters.userId);
  equal('client_id', filters.clientId);
  equal('grant_id', filters.grantId);
  equal('actor_kind', filters.actorKind);
  equal('outcome', filters.outcome);
  if (filters.types !== undefined) {
    // One statement whatever the number of types, instead of one per length of an IN (?, ?, …) list.
    clauses.push('type IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify([...new Set(filters.types)]));
  }
  const since = filters.since === undefined ? undefined : instant('since', filters.since);
  const until = filters.until === undefined ? undefined : instant('until', filters.until);
  if (since !== undefined && until !== undefined && since > until) throw new InvalidAuditQuery('since must not be after until');
  if (since !== undefined) {
    clauses.push('occurred_at >= ?');
    params.push(since);
  }
  if (until !== undefined) {
    clauses.push('occurred_at < ?');
    params.push(until);
  }
  return { clauses, params };
}

function whereClause(clauses: string[]): string {
  return clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function instant(name: string, value: string): string {
  const time = ISO_INSTANT.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) throw new InvalidAuditQuery(`${name} must be an ISO 8601 date-time with a time zone, such as 2025-01-31T12:00:00Z`);
  return new Date(time).toISOString();
}

const CURSOR_PREFIX = 'audit-before:';

/** Opaque to clients: the position the next page starts below. */
export function encodeCursor(position: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${position}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const text = /^[A-Za-z0-9_-]{1,64}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const match = /^audit-before:([1-9]\d{0,14})$/.exec(text);
  if (!match || encodeCursor(Number(match[1])) !== cursor) throw new InvalidAuditQuery('cursor is not one this API handed out');
  return Number(match[1]);
}

function entryOf(row: AuditRow): AuditEntry {
  return {
    position: row.position,
    eventId: row.event_id,
    type: row.type,
    occurredAt: row.occurred_at,
    actor: { kind: row.actor_kind, id: row.actor_id },
    userId: row.user_id,
    clientId: row.client_id,
    grantId: row.grant_id,
    sourceAddress: row.source_address,
    requestId: row.request_id,
    outcome: row.outcome,
    details: JSON.parse(row.details) as Record<string, unknown>,
  };
}
