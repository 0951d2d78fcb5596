import type { JsMsg } from '@nats-io/jetstream';
import { subjects, type DecidedEvent, type DomainEvent, type EventContext, type RecordedEvent } from '@mcp-auth/contracts';
import { ConcurrencyConflict, type EventStore, type Logger } from '@mcp-auth/event-store';
import { catchUpWithSubject, type Projector } from '@mcp-auth/event-sourcing';
import { DeliveryJobSchema, type DeliveryJob } from './fan-out.ts';
import { webhookBody } from './payload.ts';
import type { WebhooksReadModel } from './projection.ts';
import { decryptSigningSecret } from './secrets.ts';
import type { SendResult, WebhookSender } from './sender.ts';

export type DeliveryDeps = {
  store: EventStore;
  projector: Projector;
  webhooks: WebhooksReadModel;
  sender: WebhookSender;
  secretsKey: Buffer;
  logger: Logger;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
};

const WORKER: EventContext = { actor: { kind: 'system', id: 'webhook-delivery' } };
const PROJECTION_WAIT_MS = 10_000;

/** Wait before try n+1 after try n failed: base·2^(n−1), at most max. */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
}

/**
 * Makes one try of one delivery job. The tries already made are counted from the event log (the delivery's
 * own subject, read authoritatively), not from JetStream's redelivery count: a try cut short by a crash was
 * never recorded and is made again. Each try is recorded before the job is settled, conditional on the
 * delivery's subject not having moved, so two replicas never record the same try; if recording fails the job
 * is not acked and comes back (at least once). Success acks; failure naks with the backoff delay; the last
 * failure dead-letters the delivery and ends the job.
 */
export function deliveryHandler(deps: DeliveryDeps) {
  const { store, projector, webhooks, logger, maxAttempts } = deps;

  return async function deliver(message: JsMsg): Promise<void> {
    const job = parseJob(message);
    if (!job) {
      logger.warn({ seq: message.seq }, 'malformed webhook job dropped');
      message.ack();
      return;
    }
    const log = { deliveryId: job.deliveryId, webhookId: job.webhookId, eventType: job.eventType };
    try {
      // The endpoint's registration precedes the event; its removal up to the event is known from here on.
      if (!(await projector.waitFor(job.position, PROJECTION_WAIT_MS))) {
        message.nak(1_000);
        return;
      }
      const endpoint = webhooks.signingSecretOf(job.webhookId);
      if (!endpoint) {
        logger.debug(log, 'webhook removed; delivery dropped');
        message.ack();
        return;
      }
      const subject = subjects.webhookDelivery(job.deliveryId);
      const version = await catchUpWithSubject(store, projector, subject);
      const record = webhooks.delivery(job.deliveryId);
      if (record && record.state !== 'pending') {
        message.ack();
        return;
      }
      const previous = record?.attempts ?? 0;
      // After an operator's retry, only the tries since it count towards the limit.
      const sinceRetry = previous - (record?.attemptsBeforeRetry ?? 0);
      if (sinceRetry >= maxAttempts) {
        await settle(message, job, version, [deadLettered(job, previous, record?.lastError ?? 'no tries left')], 'dead');
        return;
      }

      const event = await eventOf(deps.store, job);
      if (!event) {
        await settle(message, job, version, [deadLettered(job, Math.max(1, previous), 'the event is no longer in the stream')], 'dead');
        return;
      }
      const body = webhookBody(event);
      if (body === null) {
        message.ack();
        return;
      }
      const attempt = previous + 1;
      message.working();
      const result = await tryOnce(deps, endpoint, job, body);
      const dead = result.outcome === 'failed' && (sinceRetry + 1 >= maxAttempts || result.permanent);
      const events: DecidedEvent[] = [
        {
          type: 'WebhookDeliveryAttempted',
          data: {
            deliveryId: job.deliveryId,
            webhookId: job.webhookId,
            eventId: job.eventId,
            eventType: job.eventType,
            attempt,
            outcome: result.outcome,
            status: result.status,
            error: result.error,
            durationMs: result.durationMs,
          },
        },
      ];
      if (dead) events.push(deadLettered(job, attempt, result.error ?? 'failed'));
      const next = result.outcome === 'delivered' ? 'delivered' : dead ? 'dead' : 'retry';
      if (next === 'dead') logger.warn({ ...log, attempt, status: result.status, error: result.error }, 'webhook delivery dead-lettered');
      else logger.debug({ ...log, attempt, outcome: result.outcome, status: result.status }, 'webhook delivery tried');
      await settle(message, job, version, events, next, retryDelayMs(attempt, deps.retryBaseMs, deps.retryMaxMs));
    } catch (err) {
      logger.warn({ ...log, err: String(err) }, 'webhook delivery not recorded; it will be tried again');
      message.nak(retryDelayMs(1, deps.retryBaseMs, deps.retryMaxMs));
    }
  };

  async function settle(message: JsMsg, job: DeliveryJob, version: number, events: DecidedEvent[], next: 'delivered' | 'dead' | 'retry', delayMs = 0): Promise<void> {
    // Not executeCommand: what is recorded is a try already made, which cannot be decided again; a conflict hands the job back.
    try {
      await store.appendDecided(events, WORKER, { [subjects.webhookDelivery(job.deliveryId)]: version });
    } catch (err) {
      // Another replica recorded a try of this delivery meanwhile: look again at what it recorded.
      if (err instanceof ConcurrencyConflict) {
        message.nak(250);
        return;
      }
      throw err;
    }
    // A dead letter is recorded in the log (what the console reads); its job is done and is acked, since a
    // work-queue stream keeps a terminated message (nats-server 2.9) and would never let go of it.
    if (next === 'retry') message.nak(delayMs);
    else message.ack();
  }
}

async function tryOnce(deps: DeliveryDeps, endpoint: { url: string; encryptedSecret: string }, job: DeliveryJob, body: string): Promise<SendResult> {
  let secret: string;
  try {
    secret = decryptSigningSecret(endpoint.encryptedSecret, deps.secretsKey, job.webhookId);
  } catch {
    // Not sent unsigned: a replica with another WEBHOOK_SECRETS_KEY fails its tries until it is fixed.
    return { outcome: 'failed', status: null, error: 'the signing secret cannot be decrypted (is WEBHOOK_SECRETS_KEY the one it was registered under?)', durationMs: 0, permanent: false };
  }
  return deps.sender.send({ url: endpoint.url, secret, messageId: job.deliveryId, body });
}

function deadLettered(job: DeliveryJob, attempts: number, lastError: string): DecidedEvent {
  return {
    type: 'WebhookDeliveryDeadLettered',
    data: { deliveryId: job.deliveryId, webhookId: job.webhookId, eventId: job.eventId, eventType: job.eventType, attempts, lastError, eventPosition: job.position },
  };
}

function parseJob(message: JsMsg): DeliveryJob | null {
  try {
    const parsed = DeliveryJobSchema.safeParse(JSON.parse(Buffer.from(message.data).toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The job's event, read from the EVENTS stream by position; null if it is gone or is not the job's event. */
async function eventOf(store: EventStore, job: DeliveryJob): Promise<RecordedEvent<DomainEvent> | null> {
  const event = await store.recordedAt(job.position);
  return event?.metadata.eventId === job.eventId ? event : null;
}
