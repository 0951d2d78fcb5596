import type { ChangeStamps } from '@mcp-auth/read-models';
import { defineProjection, sql, type ProjectionDatabase } from '@mcp-auth/event-sourcing';
import { EVERY_EVENT, isSubscribableEventType } from './decider.ts';

/**
 * Webhook endpoints and their deliveries. An endpoint remembers the stream positions of its registration and
 * removal, so that "who subscribes to the event at position P" has one answer however late it is asked:
 * the endpoints registered before P and not removed before P.
 *
 * A delivery appears with its first attempt. Its state: pending (tried, failed, to be retried), delivered,
 * dead_lettered (every try failed), or cancelled (its endpoint was removed before it got through).
 */
export const webhooksProjection = defineProjection({
  name: 'webhooks',
  schema: `
    CREATE TABLE IF NOT EXISTS webhook_endpoints (
      webhook_id TEXT PRIMARY KEY,
      url TEXT NOT NULL,
      event_types TEXT NOT NULL,
      description TEXT NOT NULL,
      encrypted_secret TEXT NOT NULL,
      created_at TEXT NOT NULL,
      created_position INTEGER NOT NULL,
      removed_at TEXT,
      removed_position INTEGER
    );
    CREATE TABLE IF NOT EXISTS webhook_subscriptions (
      event_type TEXT NOT NULL,
      webhook_id TEXT NOT NULL,
      PRIMARY KEY (event_type, webhook_id)
    );
    CREATE TABLE IF NOT EXISTS webhook_deliveries (
      delivery_id TEXT PRIMARY KEY,
      webhook_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      event_type TEXT NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      last_status INTEGER,
      last_error TEXT,
      last_duration_ms REAL,
      first_position INTEGER NOT NULL,
      first_attempt_at TEXT NOT NULL,
      last_attempt_at TEXT NOT NULL,
      delivered_at TEXT,
      dead_lettered_at TEXT,
      event_position INTEGER,
      retries INTEGER NOT NULL DEFAULT 0,
      attempts_before_retry INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS webhook_deliveries_by_order ON webhook_deliveries (first_position);
    CREATE INDEX IF NOT EXISTS webhook_deliveries_by_state ON webhook_deliveries (state, first_position);
    CREATE INDEX IF NOT EXISTS webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, state, first_position);
  `,
  handles: ['WebhookRegistered', 'WebhookRemoved', 'WebhookDeliveryAttempted', 'WebhookDeliveryDeadLettered', 'WebhookDeliveryRetried'],
  apply(event, db) {
    const at = event.metadata.occurredAt;
    switch (event.type) {
      case 'WebhookRegistered': {
        const d = event.data;
        const inserted = sql(
          db,
          `INSERT OR IGNORE INTO webhook_endpoints (webhook_id, url, event_types, description, encrypted_secret, created_at, created_position)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        ).run(d.webhookId, d.url, JSON.stringify(d.eventTypes), d.description, d.encryptedSecret, at, event.position);
        if (inserted.changes === 0) return;
        for (const type of new Set(d.eventTypes)) {
          sql(db, 'INSERT OR IGNORE INTO webhook_subscriptions (event_type, webhook_id) VALUES (?, ?)').run(type, d.webhookId);
        }
        return;
      }
      case 'WebhookRemoved':
        sql(db, 'UPDATE webhook_endpoints SET removed_at = ?, removed_position = ? WHERE webhook_id = ? AND removed_at IS NULL').run(at, event.position, event.data.webhookId);
        sql(db, "UPDATE webhook_deliveries SET state = 'cancelled' WHERE webhook_id = ? AND state = 'pending'").run(event.data.webhookId);
        return;
      case 'WebhookDeliveryAttempted': {
        const d = event.data;
        const delivered = d.outcome === 'delivered';
        const removed = sql(db, 'SELECT 1 FROM webhook_endpoints WHERE webhook_id = ? AND removed_at IS NOT NULL').get(d.webhookId) !== undefined;
        // A success settles a delivery whatever came before it; a failure after the end changes only the record of tries.
        sql(
          db,
          `INSERT INTO webhook_deliveries (delivery_id, webhook_id, event_id, event_type, state, attempts, last_status, last_error, last_duration_ms,
                                           first_position, first_attempt_at, last_attempt_at, delivered_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (delivery_id) DO UPDATE SET
             state = CASE WHEN excluded.state = 'delivered' THEN 'delivered' ELSE state END,
             attempts = max(attempts, excluded.attempts),
             last_status = excluded.last_status,
             last_error = excluded.last_error,
             last_duration_ms = excluded.last_duration_ms,
             last_attempt_at = excluded.last_attempt_at,
             delivered_at = coalesce(delivered_at, excluded.delivered_at)`,
        ).run(
          d.deliveryId,
          d.webhookId,
          d.eventId,
          d.eventType,
          delivered ? 'delivered' : removed ? 'cancelled' : 'pending',
          d.attempt,
          d.status,
          d.error,
          d.durationMs,
          event.position,
          at,
          at,
          delivered ? at : null,
        );
        return;
      }
      case 'WebhookDeliveryDeadLettered': {
        const d = event.data;
        sql(
          db,
          `INSERT INTO webhook_deliveries (delivery_id, webhook_id, event_id, event_type, state, attempts, last_error,
                                           first_position, first_attempt_at, last_attempt_at, dead_lettered_at, event_position)
           VALUES (?, ?, ?, ?, 'dead_lettered', ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (delivery_id) DO UPDATE SET
             state = CASE WHEN state = 'delivered' THEN state ELSE 'dead_lettered' END,
             attempts = max(attempts, excluded.attempts),
             last_error = coalesce(last_error, excluded.last_error),
             dead_lettered_at = coalesce(dead_lettered_at, excluded.dead_lettered_at),
             event_position = coalesce(event_position, excluded.event_position)`,
        ).run(d.deliveryId, d.webhookId, d.eventId, d.eventType, d.attempts, d.lastError, event.position, at, at, at, d.eventPosition ?? null);
        return;
      }
      case 'WebhookDeliveryRetried':
        // A new round of tries: the tries before it no longer count towards the limit.
        sql(
          db,
          `UPDATE webhook_deliveries
              SET state = 'pending', retries = retries + 1, attempts_before_retry = attempts, dead_lettered_at = NULL,
                  event_position = coalesce(event_position, ?)
            WHERE delivery_id = ? AND state = 'dead_lettered'`,
        ).run(event.data.eventPosition, event.data.deliveryId);
        return;
    }
  },
});

export type WebhookEndpoint = {
  webhookId: string;
  url: string;
  /** The subscribed event types, or ["*"] for every deliverable type. */
  eventTypes: string[];
  description: string;
  status: 'active' | 'removed';
  createdAt: string;
  removedAt: string | null;
  /** Deliveries of this endpoint by state. */
  deliveries: { pending: number; delivered: number; deadLettered: number; cancelled: number };
};

export type WebhookSubscriber = { webhookId: string; url: string };

export type DeliveryState = 'pending' | 'delivered' | 'dead_lettered' | 'cancelled';
export const DELIVERY_STATES: readonly DeliveryState[] = ['pending', 'delivered', 'dead_lettered', 'cancelled'];

export type WebhookDelivery = {
  /** The webhook-id header receivers see: the same on every try. */
  deliveryId: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  state: DeliveryState;
  attempts: number;
  /** HTTP status of the last try; null if it got no answer (refused, timed out, unreachable). */
  lastStatus: number | null;
  lastError: string | null;
  lastDurationMs: number | null;
  firstAttemptAt: string;
  lastAttemptAt: string;
  deliveredAt: string | null;
  deadLetteredAt: string | null;
  /** Stream position of the first attempt: listings are newest first by it, and `before` pages by it. */
  sequence: number;
  /** Stream position of the delivered event, once known (from a dead letter): what a retry sends again. */
  eventPosition: number | null;
  /** Times an operator retried it, and the tries made before the latest retry (they no longer count towards the limit). */
  retries: number;
  attemptsBeforeRetry: number;
};

export type DeliveryQuery = {
  webhookId?: string;
  state?: DeliveryState;
  /** 1–500; 50 by default. */
  limit?: number;
  /** Only deliveries whose `sequence` is below this (the next page of a listing). */
  before?: number;
};

type EndpointRow = {
  webhook_id: string;
  url: string;
  event_types: string;
  description: string;
  created_at: string;
  removed_at: string | null;
};

type DeliveryRow = {
  delivery_id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  state: DeliveryState;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  last_duration_ms: number | null;
  first_position: number;
  first_attempt_at: string;
  last_attempt_at: string;
  delivered_at: string | null;
  dead_lettered_at: string | null;
  event_position: number | null;
  retries: number;
  attempts_before_retry: number;
};

const ENDPOINT_COLUMNS = 'webhook_id, url, event_types, description, created_at, removed_at';

type Subscription = { webhookId: string; url: string; createdPosition: number; removedPosition: number | null; types: Set<string> };

export class WebhooksReadModel {
  readonly #db: ProjectionDatabase;
  readonly #stamps: ChangeStamps | null;
  #subscriptions: { stamp: number; all: Subscription[] } | null = null;

  /** With change stamps, subscriptions are kept in memory until the projection changes: the fan-out asks for every event. */
  constructor(db: ProjectionDatabase, stamps: ChangeStamps | null = null) {
    this.#db = db;
    this.#stamps = stamps;
  }

  /** Endpoints, oldest first; removed ones only if asked. */
  list({ includeRemoved = false }: { includeRemoved?: boolean } = {}): WebhookEndpoint[] {
    const rows = sql(this.#db, `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE ? OR removed_at IS NULL ORDER BY created_position`).all(
      includeRemoved ? 1 : 0,
    ) as EndpointRow[];
    return rows.map((row) => this.#endpoint(row));
  }

  /** One endpoint, active or removed. Never its secret. */
  find(webhookId: string): WebhookEndpoint | null {
    const row = sql(this.#db, `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE webhook_id = ?`).get(webhookId) as EndpointRow | undefined;
    return row ? this.#endpoint(row) : null;
  }

  /** The encrypted signing secret of an active endpoint, for the delivery worker; null once removed. */
  signingSecretOf(webhookId: string): { url: string; encryptedSecret: string } | null {
    const row = sql(this.#db, 'SELECT url, encrypted_secret FROM webhook_endpoints WHERE webhook_id = ? AND removed_at IS NULL').get(webhookId) as
      | { url: string; encrypted_secret: string }
      | undefined;
    return row ? { url: row.url, encryptedSecret: row.encrypted_secret } : null;
  }

  /**
   * The endpoints an event of this type goes to: those subscribed to it or to "*". With a position, as the
   * subscriptions stood at that position (registered before it, not removed before it); without, now.
   */
  subscribersOf(eventType: string, atPosition?: number): WebhookSubscriber[] {
    if (!isSubscribableEventType(eventType)) return [];
    return this.#allSubscriptions()
      .filter((s) => (s.types.has(eventType) || s.types.has(EVERY_EVENT)) && (atPosition === undefined
        ? s.removedPosition === null
        : s.createdPosition < atPosition && (s.removedPosition === null || s.removedPosition > atPosition)))
      .map(({ webhookId, url }) => ({ webhookId, url }));
  }

  /** Stream position of the first webhook ever registered (removed or not), or null while there has been none. */
  firstRegistrationPosition(): number | null {
    return this.#allSubscriptions()[0]?.createdPosition ?? null;
  }

  /** Every endpoint with its subscriptions; read again whenever the projection changed (always, without change stamps). */
  #allSubscriptions(): Subscription[] {
    const stamp = this.#stamps?.changes(webhooksProjection.name);
    if (stamp !== undefined && this.#subscriptions?.stamp === stamp) return this.#subscriptions.all;
    const types = new Map<string, Set<string>>();
    for (const row of sql(this.#db, 'SELECT webhook_id, event_type FROM webhook_subscriptions').all() as Array<{ webhook_id: string; event_type: string }>) {
      (types.get(row.webhook_id) ?? types.set(row.webhook_id, new Set()).get(row.webhook_id)!).add(row.event_type);
    }
    const endpoints = sql(this.#db, 'SELECT webhook_id, url, created_position, removed_position FROM webhook_endpoints ORDER BY created_position').all() as Array<{
      webhook_id: string;
      url: string;
      created_position: number;
      removed_position: number | null;
    }>;
    const all = endpoints.map((e) => ({ webhookId: e.webhook_id, url: e.url, createdPosition: e.created_position, removedPosition: e.removed_position, types: types.get(e.webhook_id) ?? new Set<string>() }));
    if (stamp !== undefined) this.#subscriptions = { stamp, all };
    return all;
  }

  /** Deliveries, newest first, optionally of one endpoint and in one state. */
  deliveries({ webhookId, state, limit = 50, before }: DeliveryQuery = {}): WebhookDelivery[] {
    // Only the filters asked for are in the statement, so SQLite can walk the matching index in order.
    const conditions = [
      ...(webhookId !== undefined ? ['webhook_id = @webhookId'] : []),
      ...(state !== undefined ? ['state = @state'] : []),
      ...(before !== undefined ? ['first_position < @before'] : []),
    ];
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    const rows = sql(this.#db, `SELECT * FROM webhook_deliveries ${where} ORDER BY first_position DESC LIMIT @limit`).all({
      ...(webhookId !== undefined ? { webhookId } : {}),
      ...(state !== undefined ? { state } : {}),
      ...(before !== undefined ? { before } : {}),
      limit: Math.max(1, Math.min(500, Math.floor(limit))),
    }) as DeliveryRow[];
    return rows.map(deliveryOf);
  }

  delivery(deliveryId: string): WebhookDelivery | null {
    const row = sql(this.#db, 'SELECT * FROM webhook_deliveries WHERE delivery_id = ?').get(deliveryId) as DeliveryRow | undefined;
    return row ? deliveryOf(row) : null;
  }

  #endpoint(row: EndpointRow): WebhookEndpoint {
    const counts = { pending: 0, delivered: 0, deadLettered: 0, cancelled: 0 };
    const byState = sql(this.#db, 'SELECT state, count(*) AS n FROM webhook_deliveries WHERE webhook_id = ? GROUP BY state').all(row.webhook_id) as Array<{
      state: DeliveryState;
      n: number;
    }>;
    for (const { state, n } of byState) {
      if (state === 'dead_lettered') counts.deadLettered = n;
      else if (state in counts) counts[state] = n;
    }
    return {
      webhookId: row.webhook_id,
      url: row.url,
      eventTypes: JSON.parse(row.event_types) as string[],
      description: row.description,
      status: row.removed_at === null ? 'active' : 'removed',
      createdAt: row.created_at,
      removedAt: row.removed_at,
      deliveries: counts,
    };
  }
}

function deliveryOf(row: DeliveryRow): WebhookDelivery {
  return {
    deliveryId: row.delivery_id,
    webhookId: row.webhook_id,
    eventId: row.event_id,
    eventType: row.event_type,
    state: row.state,
    attempts: row.attempts,
    lastStatus: row.last_status,
    lastError: row.last_error,
    lastDurationMs: row.last_duration_ms,
    firstAttemptAt: row.first_attempt_at,
    lastAttemptAt: row.last_attempt_at,
    deliveredAt: row.delivered_at,
    deadLetteredAt: row.dead_lettered_at,
    sequence: row.first_position,
    eventPosition: row.event_position,
    retries: row.retries,
    attemptsBeforeRetry: row.attempts_before_retry,
  };
}
