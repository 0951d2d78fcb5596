import { isSubjectToken, subjects, type EventContext } from '@mcp-auth/contracts';
import { HttpError } from '@mcp-auth/http';
import { randomToken } from '@mcp-auth/oauth';
import { catchUpWithSubject, waitForPosition } from '@mcp-auth/projector';
import type { AdminDeps } from '../deps.ts';
import { decide, type WebhookState } from './decider.ts';
import type { DeliveryJob } from './fan-out.ts';
import type { WebhookDelivery, WebhookEndpoint } from './projection.ts';
import { DeliveryNotFound, decideRetry } from './retry.ts';
import { encryptSigningSecret, generateSigningSecret, parseSecretsKey } from './secrets.ts';
import { deliverySubject } from './streams.ts';

export const WEBHOOKS_OFF = new HttpError(501, {
  error: 'webhooks_disabled',
  error_description: 'Webhooks cannot be registered: set WEBHOOK_SECRETS_KEY (32 random bytes in base64) on the admin service.',
});

export type WebhookCommands = {
  /** Registers an endpoint; the signing secret is generated here and returned this once only. */
  register(input: { url: string; eventTypes: string[]; description: string }, context: EventContext): Promise<{ endpoint: WebhookEndpoint; secret: string }>;
  remove(webhookId: string, context: EventContext): Promise<void>;
  /** Sends a dead-lettered delivery again, with the same webhook-id and a new round of tries. */
  retryDelivery(deliveryId: string, context: EventContext): Promise<WebhookDelivery>;
};

/** Registration and removal of webhook endpoints, for the admin API and the console alike. */
export function webhookCommands(deps: Pick<AdminDeps, 'config' | 'store' | 'projector' | 'webhooks'>): WebhookCommands {
  const { config, store, projector, webhooks } = deps;
  const secretsKey = config.WEBHOOK_SECRETS_KEY ? parseSecretsKey(config.WEBHOOK_SECRETS_KEY) : null;
  return {
    async register({ url, eventTypes, description }, context) {
      if (!secretsKey) throw WEBHOOKS_OFF;
      const webhookId = `wh_${randomToken(16)}`;
      const secret = generateSigningSecret();
      const events = decide(
        {
          type: 'RegisterWebhook',
          data: { webhookId, url, eventTypes, description, encryptedSecret: encryptSigningSecret(secret, secretsKey, webhookId), allowPrivateTargets: config.WEBHOOK_ALLOW_PRIVATE_TARGETS },
        },
        { status: 'unregistered' },
      );
      const position = await store.appendDecided(events, context, { [subjects.webhook(webhookId)]: 0 });
      if (position !== null) await waitForPosition(projector, position);
      const endpoint = webhooks.find(webhookId);
      if (!endpoint) throw new Error('registered webhook is missing from the projection');
      return { endpoint, secret };
    },
    async remove(webhookId, context) {
      const subject = subjects.webhook(webhookId);
      const version = await catchUpWithSubject(store, projector, subject);
      const endpoint = version === 0 ? null : webhooks.find(webhookId);
      const state: WebhookState = { status: endpoint === null ? 'unregistered' : endpoint.status === 'active' ? 'active' : 'removed' };
      const events = decide({ type: 'RemoveWebhook', data: { webhookId } }, state);
      const position = await store.appendDecided(events, context, { [subject]: version });
      if (position !== null) await waitForPosition(projector, position);
    },
    async retryDelivery(deliveryId, context) {
      if (!secretsKey) throw WEBHOOKS_OFF;
      if (!isSubjectToken(deliveryId)) throw new DeliveryNotFound();
      const subject = subjects.webhookDelivery(deliveryId);
      const version = await catchUpWithSubject(store, projector, subject);
      const delivery = version === 0 ? null : webhooks.delivery(deliveryId);
      const { events } = decideRetry(delivery, delivery ? webhooks.find(delivery.webhookId) : null);
      const retryPosition = (await store.appendDecided(events, context, { [subject]: version })) ?? version;
      await waitForPosition(projector, retryPosition);
      const retried = webhooks.delivery(deliveryId)!;
      const job: DeliveryJob = { deliveryId, webhookId: retried.webhookId, eventId: retried.eventId, eventType: retried.eventType, position: retried.eventPosition! };
      // One job per retry (a resend of the same retry is deduplicated by its message id).
      await store.publishJob(deliverySubject(job.webhookId), JSON.stringify(job), `${deliveryId}.retry.${retryPosition}`);
      return retried;
    },
  };
}
