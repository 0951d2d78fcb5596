import { AckPolicy, DeliverPolicy, type ConsumerConfig } from '@nats-io/jetstream';
import { WEBHOOK_DELIVERIES_STREAM, WEBHOOK_DELIVERIES_SUBJECTS } from '@mcp-auth/contracts';

/**
 * The JetStream resources of webhook delivery, shared by every admin replica:
 *
 * - FANOUT_CONSUMER: a durable pull consumer on EVENTS (cumulative ack, from the first webhook's registration).
 *   For each event it publishes one delivery job per subscribed endpoint, then acks.
 * - DELIVERY_STREAM: the jobs, on webhooks.deliveries.<webhookId> (its settings: webhookDeliveriesStreamConfig, which
 *   the operator's NATS setup step creates it with).
 * - DELIVERY_CONSUMER: a durable pull consumer on the jobs; retries are redeliveries delayed by nak(delay).
 */
export const DELIVERY_STREAM = WEBHOOK_DELIVERIES_STREAM;
export const DELIVERY_SUBJECTS = WEBHOOK_DELIVERIES_SUBJECTS;
export const FANOUT_CONSUMER = 'admin-webhooks-fanout';
export const DELIVERY_CONSUMER = 'admin-webhooks-delivery';

export const deliverySubject = (webhookId: string) => `webhooks.deliveries.${webhookId}`;

const nanos = (ms: number) => Math.round(ms * 1_000_000);

/** From the first webhook's registration: no endpoint subscribes to anything before it. Kept by an existing consumer. */
export function fanOutConsumerConfig(firstRegistrationPosition: number): Partial<ConsumerConfig> {
  return {
    durable_name: FANOUT_CONSUMER,
    // Handled in order and acknowledged cumulatively (see fan-out.ts).
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: firstRegistrationPosition,
    ack_wait: nanos(60_000),
    max_deliver: -1,
    max_ack_pending: 1_000,
  };
}

/**
 * Attempts are counted from the event log, not from JetStream's delivery count (a try cut short by a crash
 * or a stop was never made), so redeliveries are unlimited: every job ends acked by a worker.
 */
export function deliveryConsumerConfig(timeoutMs: number): Partial<ConsumerConfig> {
  return {
    durable_name: DELIVERY_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // A try may take the whole timeout, and recording it up to the event store's append deadline.
    ack_wait: nanos(timeoutMs + 30_000),
    max_deliver: -1,
    // Jobs waiting out a retry delay (nak with delay) are still pending acks: with a small limit, one dead
    // endpoint's backlog would stop every other endpoint's deliveries. Pulls bound what a replica holds.
    max_ack_pending: 100_000,
  };
}
