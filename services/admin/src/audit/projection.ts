import { eventCatalogue, type EventType } from '@mcp-auth/contracts';
import { defineProjection, sql } from '@mcp-auth/event-sourcing';
import { describeEvent } from './describe.ts';

const EVERY_EVENT_TYPE = Object.keys(eventCatalogue) as EventType[];

/**
 * The audit trail: one row per event of the stream, keyed by its position, with who did it (the actor),
 * whom it concerns (user, client, grant), when, from which address, how it ended, and the details the
 * allow-list in describe.ts lets through. audit_grants remembers each grant's user and client, so that
 * events naming only the grant (rotations, revocations) can be found by user and client too.
 */
export const auditProjection = defineProjection({
  name: 'audit',
  schema: `
    CREATE TABLE IF NOT EXISTS audit_events (
      position INTEGER PRIMARY KEY,
      event_id TEXT NOT NULL,
      type TEXT NOT NULL,
      occurred_at TEXT NOT NULL,
      actor_kind TEXT NOT NULL,
      actor_id TEXT NOT NULL,
      user_id TEXT,
      client_id TEXT,
      grant_id TEXT,
      source_address TEXT,
      request_id TEXT,
      outcome TEXT NOT NULL,
      details TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS audit_grants (
      grant_id TEXT PRIMARY KEY,
      user_id TEXT NOT NULL,
      client_id TEXT NOT NULL
    );
  `,
  // Every event is written here, so indexes are kept to the usual searches. The position is the event's
  // identity (the stream deduplicates event ids); a filter on actor kind alone walks the trail by position.
  queryIndexes: `
    CREATE INDEX IF NOT EXISTS audit_events_by_user ON audit_events (user_id, position) WHERE user_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS audit_events_by_client ON audit_events (client_id, position) WHERE client_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS audit_events_by_grant ON audit_events (grant_id, position) WHERE grant_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS audit_events_by_type ON audit_events (type, position);
    CREATE INDEX IF NOT EXISTS audit_events_by_time ON audit_events (occurred_at);
  `,
  handles: EVERY_EVENT_TYPE,
  apply(event, db) {
    const description = describeEvent(event);
    let { userId, clientId } = description;
    const { grantId } = description;
    if (grantId !== null) {
      if (event.type === 'AuthorizationCodeRedeemed') {
        sql(db, 'INSERT OR IGNORE INTO audit_grants (grant_id, user_id, client_id) VALUES (?, ?, ?)').run(grantId, event.data.userId, event.data.clientId);
      } else if (userId === null || clientId === null) {
        const grant = sql(db, 'SELECT user_id, client_id FROM audit_grants WHERE grant_id = ?').get(grantId) as { user_id: string; client_id: string } | undefined;
        userId ??= grant?.user_id ?? null;
        clientId ??= grant?.client_id ?? null;
      }
    }
    const { metadata } = event;
    sql(
      db,
      `INSERT OR IGNORE INTO audit_events
         (position, event_id, type, occurred_at, actor_kind, actor_id, user_id, client_id, grant_id, source_address, request_id, outcome, details)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      event.position,
      metadata.eventId,
      event.type,
      canonicalTime(metadata.occurredAt),
      metadata.actor.kind,
      metadata.actor.id,
      userId,
      clientId,
      grantId,
      metadata.sourceAddress ?? null,
      metadata.requestId ?? null,
      description.outcome,
      JSON.stringify(description.details),
    );
  },
});

/**
 * One format (millisecond precision, Z), so that time ranges compare as text. The envelope's time is a
 * validated ISO instant in UTC; ours are already in this form (24 characters), which skips a parse.
 */
function canonicalTime(occurredAt: string): string {
  return occurredAt.length === 24 ? occurredAt : new Date(occurredAt).toISOString();
}
