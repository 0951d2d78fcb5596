import { EVENT_AGGREGATES, decodeEventOn, type DomainEvent, type EventType, type RecordedEvent } from '@mcp-auth/contracts';
import { EVENT_TYPE_HEADER, persistently, type EventStore, type JsMsg, type Logger } from '@mcp-auth/event-store';
import { filterSubjects, type Projector } from './projector.ts';

/** How long a reaction waits for this replica's projection to reach its event, per try. */
const PROJECTION_WAIT_MS = 10_000;

/**
 * A policy: what a service does once, whichever replica does it, when another event is recorded ("a client was
 * deleted: revoke its grants"). Each reaction runs ordinary commands (executeCommand), whose deciders record
 * nothing for what is already so: an event delivered again, or to a second replica, changes nothing.
 */
export type Policy = {
  /** The durable consumer's name, the same for every replica of the service. */
  name: string;
  /** The event types it reacts to; the consumer is filtered to their aggregates, every other event is passed over. */
  reactsTo: readonly EventType[];
  /** Reacts to one event, once this replica's projection has applied it. */
  react(event: RecordedEvent<DomainEvent>): Promise<void>;
};

/**
 * Runs a policy on a durable consumer shared by the service's replicas (each event goes to one of them), from
 * the stream's first event, so a reaction is never lost: an event is acknowledged only once its reaction has
 * been recorded, and retried while the stream or the projection is out of reach. A reaction that fails for any
 * other reason (a fault that would fail again) is logged and passed over rather than holding back every later one.
 */
export function startPolicy(deps: { store: EventStore; projector: Projector; logger: Logger }, policy: Policy): { stop(): Promise<void> } {
  const { store, projector, logger } = deps;
  const types = new Set<string>(policy.reactsTo);
  const subjects = filterSubjects(new Set(policy.reactsTo.map((type) => EVENT_AGGREGATES[type])));
  const retrying = { logger, isStopping: () => worker.stopping };

  const handle = async (message: JsMsg): Promise<void> => {
    // Other types of the same aggregates, and on an unfiltered consumer every other event: not read at all.
    const type = message.headers?.get(EVENT_TYPE_HEADER);
    if (type && !types.has(type)) return message.ack();
    if (!(await persistently(`${policy.name}: projection behind`, message.seq, retrying, () => projector.waitFor(message.seq, PROJECTION_WAIT_MS)))) return;
    const decoded = decodeEventOn(message.subject, message.data);
    if (decoded.kind !== 'event' || !types.has(decoded.event.type)) {
      if (decoded.kind !== 'event') logger.warn({ position: message.seq, policy: policy.name, outcome: decoded }, 'policy passes over an event it does not understand');
      return message.ack();
    }
    const { type: eventType, data, metadata } = decoded.event;
    const event = { type: eventType, data, metadata, position: message.seq, subject: message.subject } as RecordedEvent<DomainEvent>;
    const done = await persistently(`${policy.name}: reaction not recorded`, message.seq, retrying, async () => {
      message.working();
      try {
        await policy.react(event);
      } catch (err) {
        const name = (err as Error).name;
        if (name === 'EventStoreUnavailable' || name === 'ConcurrencyConflict') throw err;
        logger.error({ err: String(err), position: message.seq, policy: policy.name, type: eventType }, 'policy reaction failed; passed over');
      }
      return true;
    });
    if (done) message.ack();
  };

  const worker = store.eventsConsumer({ name: policy.name, subjects, handle });
  worker.start();
  return { stop: () => worker.stop() };
}
