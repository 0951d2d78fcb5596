import { createHash } from 'node:crypto';
import type { JsMsg } from '@nats-io/jetstream';
import { z } from 'zod';
import { aggregateOfSubject, decodeEventOn } from '@mcp-auth/contracts';
import { EVENT_TYPE_HEADER, persistently, type EventStore, type Logger } from '@mcp-auth/event-store';
import type { Projector } from '@mcp-auth/event-sourcing';
import { isSubscribableEventType } from './decider.ts';
import type { WebhooksReadModel } from './projection.ts';
import { deliverySubject } from './streams.ts';

/** One event to deliver to one endpoint: a reference to the event, which stays in the EVENTS stream. */
export const DeliveryJobSchema = z.object({
  deliveryId: z.string().regex(/^msg_[A-Za-z0-9_-]{10,60}$/),
  webhookId: z.string().min(1).max(128),
  eventId: z.string().min(1).max(100),
  eventType: z.string().min(1).max(100),
  position: z.number().int().positive(),
});
export type DeliveryJob = z.infer<typeof DeliveryJobSchema>;

/**
 * The webhook-id of one event's delivery to one endpoint: the same on every try and every replica, so a
 * receiver deduplicates by it; a subject token, since the delivery's events live on events.admin.delivery.<id>.
 */
export function deliveryIdOf(eventId: string, webhookId: string): string {
  return `msg_${createHash('sha256').update(`${eventId}\n${webhookId}`).digest('base64url').slice(0, 32)}`;
}

const PROJECTION_WAIT_MS = 10_000;
const PUBLISH_TIMEOUT_MS = 5_000;

export type FanOutDeps = { store: EventStore; projector: Projector; webhooks: WebhooksReadModel; logger: Logger; isStopping: () => boolean };

/** Events passed over without a job are acknowledged together: an ack of one acks every event before it (AckPolicy.All). */
const SKIPPED_PER_ACK = 200;
const SKIPPED_ACK_DELAY_MS = 100;

/**
 * Turns each event of the stream into delivery jobs for the endpoints subscribed to it. An endpoint gets the
 * events appended after its registration and before its removal: the subscriptions are read as they stood at
 * the event's position, once this replica's projection has reached it, so the answer does not depend on when
 * (or on which replica) the fan-out runs.
 *
 * Events are handled strictly in order and acknowledged cumulatively, so almost every event (those no endpoint
 * wants) costs no ack of its own. An event is acked only once its jobs are stored; until then it is retried
 * here, holding back every later one, because acknowledging a later event would acknowledge it too.
 */
export function fanOutHandler({ store, projector, webhooks, logger, isStopping }: FanOutDeps) {
  let unacked: JsMsg | null = null;
  let skipped = 0;
  let timer: NodeJS.Timeout | undefined;
  const ackSkipped = () => {
    clearTimeout(timer);
    timer = undefined;
    unacked?.ack();
    unacked = null;
    skipped = 0;
  };
  const skip = (message: JsMsg) => {
    unacked = message;
    if (++skipped >= SKIPPED_PER_ACK) ackSkipped();
    else timer ??= setTimeout(ackSkipped, SKIPPED_ACK_DELAY_MS);
  };
  const retrying = { logger, isStopping };

  return async function fanOut(message: JsMsg): Promise<void> {
    const aggregate = aggregateOfSubject(message.subject);
    if (aggregate === 'admin.webhook' || aggregate === 'admin.delivery') return skip(message);
    let type = message.headers?.get(EVENT_TYPE_HEADER) || null;
    if (type !== null && !isSubscribableEventType(type)) return skip(message);

    if (!(await persistently('projection behind the fan-out', message.seq, retrying, () => projector.waitFor(message.seq, PROJECTION_WAIT_MS)))) return;
    let decoded = null;
    if (type === null) {
      decoded = decodeEventOn(message.subject, message.data);
      if (decoded.kind !== 'event') return skip(message);
      type = decoded.event.type;
    }
    const subscribers = webhooks.subscribersOf(type, message.seq);
    if (subscribers.length === 0) return skip(message);

    decoded ??= decodeEventOn(message.subject, message.data);
    // A type this version does not know, a newer schema or garbage: nothing here can say what may be sent.
    if (decoded.kind !== 'event') return skip(message);
    const { event } = decoded;
    message.working();
    const stored = await persistently('webhook jobs not stored', message.seq, retrying, async () => {
      for (const { webhookId } of subscribers) {
        const job: DeliveryJob = { deliveryId: deliveryIdOf(event.metadata.eventId, webhookId), webhookId, eventId: event.metadata.eventId, eventType: event.type, position: message.seq };
        // Stored once per delivery id within the duplicate window, however often this is retried.
        await store.publishJob(deliverySubject(webhookId), JSON.stringify(job), job.deliveryId, PUBLISH_TIMEOUT_MS);
      }
      return true;
    });
    if (!stored) return;
    // Acknowledges this event and every one passed over before it.
    unacked = message;
    ackSkipped();
  };
}
