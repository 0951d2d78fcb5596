import { STREAM_NAME } from '@mcp-auth/contracts';
import type { DurableWorker } from '@mcp-auth/event-store';
import type { AdminDeps } from '../deps.ts';
import { deliveryHandler } from './delivery.ts';
import { fanOutHandler } from './fan-out.ts';
import { parseSecretsKey } from './secrets.ts';
import { WebhookSender } from './sender.ts';
import {
  DELIVERY_CONSUMER,
  DELIVERY_STREAM,
  FANOUT_CONSUMER,
  deliveryConsumerConfig,
  fanOutConsumerConfig,
} from './streams.ts';

/** Deliveries one replica makes at once (each may wait up to WEBHOOK_TIMEOUT_MS for its receiver). */
const DELIVERY_CONCURRENCY = 16;

/** How often a replica with no webhook registered yet looks again (the projection answers from memory). */
const FIRST_WEBHOOK_POLL_MS = 250;

/**
 * Starts this replica's share of webhook delivery: the fan-out (events → delivery jobs) and the delivery
 * worker (jobs → signed POSTs), each on a durable consumer shared by every admin replica, so each job is
 * handled by one of them at a time. Returns at once; the workers connect and retry in the background.
 *
 * Until the first webhook is registered there is nothing to deliver, and reading every event for nobody cost
 * a tenth of the stack's CPU under load: the workers start once the projection shows a registration, and the
 * fan-out consumer starts at its position, since no endpoint can subscribe to an event before that.
 */
export async function startWebhookWorkers(deps: AdminDeps): Promise<{ stop(): Promise<void> }> {
  const { config, store, projector, webhooks, logger } = deps;
  if (!config.WEBHOOK_SECRETS_KEY) {
    // Without the key nothing can be signed; jobs are fanned out once a key is set (from where the fan-out left off).
    logger.info({}, 'WEBHOOK_SECRETS_KEY is not set: webhooks are not delivered');
    return { async stop() {} };
  }
  const secretsKey = parseSecretsKey(config.WEBHOOK_SECRETS_KEY);
  const sender = new WebhookSender({ allowPrivateTargets: config.WEBHOOK_ALLOW_PRIVATE_TARGETS, timeoutMs: config.WEBHOOK_TIMEOUT_MS });
  const ensureJobs = () => store.ensureWebhookDeliveriesStream(config.NATS_STREAM_REPLICAS);

  const fanOut: DurableWorker = store.durableWorker({
    name: 'webhook-fan-out',
    stream: STREAM_NAME,
    consumer: FANOUT_CONSUMER,
    logger,
    concurrency: 1,
    batch: 500,
    ensure: async () => {
      await ensureJobs();
      await store.ensureDurableConsumer(STREAM_NAME, fanOutConsumerConfig(webhooks.firstRegistrationPosition()!));
    },
    handle: fanOutHandler({ store, projector, webhooks, logger, isStopping: () => fanOut.stopping }),
  });
  const delivery = store.durableWorker({
    name: 'webhook-delivery',
    stream: DELIVERY_STREAM,
    consumer: DELIVERY_CONSUMER,
    logger,
    concurrency: DELIVERY_CONCURRENCY,
    ensure: async () => {
      await ensureJobs();
      await store.ensureDurableConsumer(DELIVERY_STREAM, deliveryConsumerConfig(config.WEBHOOK_TIMEOUT_MS));
    },
    handle: deliveryHandler({
      store,
      projector,
      webhooks,
      sender,
      secretsKey,
      logger,
      maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
      retryMaxMs: config.WEBHOOK_RETRY_MAX_MS,
    }),
  });
  const startOnceAWebhookExists = () => {
    if (webhooks.firstRegistrationPosition() === null) return;
    clearInterval(waiting);
    fanOut.start();
    delivery.start();
  };
  const waiting = setInterval(startOnceAWebhookExists, FIRST_WEBHOOK_POLL_MS);
  startOnceAWebhookExists();

  return {
    async stop() {
      clearInterval(waiting);
      await Promise.all([fanOut.stop(), delivery.stop()]);
      await sender.close();
    },
  };
}
