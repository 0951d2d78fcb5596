import { decodeEventOn, type DomainEvent, type RecordedEvent } from '@mcp-auth/contracts';
import type { JsMsg, Logger } from '@mcp-auth/event-store';
import type { ProjectedEvents } from './projected-events.ts';
import { recordSkippedEvent } from './projection-file.ts';
import type { BatchProjection, ProjectionDatabase } from './projection.ts';

/**
 * The most events a batch projection is handed at once. A rebuild's batches hold thousands of events: kept
 * until the batch ends, they would outlive the young generation and be copied by every scavenge meanwhile.
 */
const BATCH_PROJECTION_GROUP = 64;

/** Applies delivered messages to the projections, in one savepoint per batch, and counts what it did. */
export class EventApplier {
  readonly #db: ProjectionDatabase;
  readonly #events: ProjectedEvents;
  readonly #logger: Logger;
  /** Events applied to each projection, by name. */
  readonly changes = new Map<string, number>();
  applied = 0;
  skipped = 0;
  readonly #inTransaction: (messages: JsMsg[], after: number) => number;

  constructor(db: ProjectionDatabase, events: ProjectedEvents, logger: Logger) {
    this.#db = db;
    this.#events = events;
    this.#logger = logger;
    this.#inTransaction = db.transaction((messages: JsMsg[], after: number) => {
      let last = after;
      const batched = new Map<BatchProjection, RecordedEvent<DomainEvent>[]>();
      for (const message of messages) {
        if (message.seq <= last) continue;
        this.#applyOne(message, batched);
        last = message.seq;
      }
      for (const [projection, events] of batched) projection.applyBatch(events, db);
      return last;
    });
  }

  /**
   * Applies the messages after position `after` in one transaction (a savepoint, inside an open group commit)
   * and returns the position reached; throws with nothing of them applied.
   */
  apply(messages: JsMsg[], after: number): number {
    return this.#inTransaction(messages, after);
  }

  /** Applies one message's event to the projections that apply events one by one; the others get it in `batched`. */
  #applyOne(message: JsMsg, batched: Map<BatchProjection, RecordedEvent<DomainEvent>[]>): void {
    if (!this.#events.concern(message)) return;
    const outcome = decodeEventOn(message.subject, message.data);
    if (outcome.kind === 'misplaced') {
      // Someone who may write this subject wrote another context's event type on it: never believed.
      this.skipped++;
      this.#logger.warn({ position: message.seq, type: outcome.type, subject: outcome.subject }, 'skipping an event whose type does not belong to the subject it was written on');
      recordSkippedEvent(this.#db, message.seq, outcome.type, `${outcome.type} does not belong on ${outcome.subject}`);
      return;
    }
    if (outcome.kind !== 'event') {
      this.skipped++;
      this.#logger.warn({ position: message.seq, outcome }, 'skipping an event this service does not understand');
      return;
    }
    const handlers = this.#events.projectionsOf(outcome.event.type);
    if (!handlers) return;
    // A literal of one shape: adding the two properties to the decoded object would change its shape per event.
    const { type, data, metadata } = outcome.event;
    const recorded = { type, data, metadata, position: message.seq, subject: message.subject } as RecordedEvent<DomainEvent>;
    for (const projection of handlers) {
      if (projection.applyBatch) {
        const events = batched.get(projection);
        if (!events) batched.set(projection, [recorded]);
        else if (events.push(recorded) === BATCH_PROJECTION_GROUP) {
          projection.applyBatch(events, this.#db);
          batched.delete(projection);
        }
      } else {
        projection.apply(recorded, this.#db);
      }
      this.changes.set(projection.name, (this.changes.get(projection.name) ?? 0) + 1);
    }
    this.applied++;
  }
}
