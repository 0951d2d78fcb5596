import { createHash } from 'node:crypto';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { z } from 'zod';
import { aggregateOfSubject, decodeEvent } from '@mcp-auth/contracts';
import { EVENT_TYPE_HEADER, type Logger } from '@mcp-auth/event-store';
import type { Projector } from '@mcp-auth/projector';
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

export type FanOutDeps = { js: JetStreamClient; projector: Projector; webhooks: WebhooksReadModel; logger: Logger };

/**
 * Turns each event of the stream into delivery jobs for the endpoints subscribed to it. An endpoint gets the
 * events appended after its registration and before its removal: the subscriptions are read as they stood at
 * the event's position, once this replica's projection has reached it, so the answer does not depend on when
 * (or on which replica) the fan-out runs. The job is acked only once every job is stored.
 */
export function fanOutHandler({ js, projector, webhooks, logger }: FanOutDeps) {
  return async function fanOut(message: JsMsg): Promise<void> {
    const aggregate = aggregateOfSubject(message.subject);
    if (aggregate === 'admin.webhook' || aggregate === 'admin.delivery') return message.ack();
    let type = message.headers?.get(EVENT_TYPE_HEADER) || null;
    if (type !== null && !isSubscribableEventType(type)) return message.ack();

    if (!(await projector.waitFor(message.seq, PROJECTION_WAIT_MS))) {
      message.nak(1_000);
      return;
    }
    let decoded = null;
    if (type === null) {
      decoded = decodeEvent(message.data);
      if (decoded.kind !== 'event') return message.ack();
      type = decoded.event.type;
    }
    const subscribers = webhooks.subscribersOf(type, message.seq);
    if (subscribers.length === 0) return message.ack();

    decoded ??= decodeEvent(message.data);
    // A type this version does not know, a newer schema or garbage: nothing here can say what may be sent.
    if (decoded.kind !== 'event') return message.ack();
    const { event } = decoded;
    message.working();
    try {
      for (const { webhookId } of subscribers) {
        const job: DeliveryJob = { deliveryId: deliveryIdOf(event.metadata.eventId, webhookId), webhookId, eventId: event.metadata.eventId, eventType: event.type, position: message.seq };
        await js.publish(deliverySubject(webhookId), JSON.stringify(job), { msgID: job.deliveryId, timeout: PUBLISH_TIMEOUT_MS });
      }
    } catch (err) {
      logger.warn({ err: String(err), position: message.seq }, 'webhook jobs not stored; the event will be fanned out again');
      message.nak(2_000);
      return;
    }
    message.ack();
  };
}
