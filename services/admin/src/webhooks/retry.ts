import type { DecidedEvent } from '@mcp-auth/contracts';
import { HttpError } from '@mcp-auth/http';
import type { WebhookDelivery, WebhookEndpoint } from './projection.ts';

export class DeliveryNotFound extends HttpError {
  constructor() {
    super(404, { error: 'not_found', error_description: 'No such delivery.' });
  }
}

export class DeliveryNotRetryable extends HttpError {
  constructor(description: string) {
    super(409, { error: 'conflict', error_description: description });
  }
}

/**
 * What an operator's retry of a delivery does: a dead-lettered delivery of a live endpoint starts a new round
 * of tries (WebhookDeliveryRetried); one retried but not yet tried again only has its job sent again (the
 * first send may have been lost); anything else is refused.
 */
export function decideRetry(delivery: WebhookDelivery | null, endpoint: WebhookEndpoint | null): { events: DecidedEvent[]; resend: boolean } {
  if (!delivery) throw new DeliveryNotFound();
  if (!endpoint || endpoint.status !== 'active') throw new DeliveryNotRetryable('The endpoint of this delivery was removed.');
  const retriedNotTried = delivery.state === 'pending' && delivery.retries > 0 && delivery.attempts === delivery.attemptsBeforeRetry;
  if (retriedNotTried) return { events: [], resend: true };
  if (delivery.state !== 'dead_lettered') throw new DeliveryNotRetryable(`Only a dead-lettered delivery can be retried; this one is ${delivery.state.replace('_', ' ')}.`);
  if (delivery.eventPosition === null) throw new DeliveryNotRetryable('The position of this delivery\'s event is not known, so it cannot be sent again.');
  const { deliveryId, webhookId, eventId, eventType, eventPosition } = delivery;
  return { events: [{ type: 'WebhookDeliveryRetried', data: { deliveryId, webhookId, eventId, eventType, eventPosition } }], resend: true };
}
