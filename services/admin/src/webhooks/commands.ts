import { isSubjectToken, subjects, type EventContext } from '@mcp-auth/contracts';
import { HttpError } from '@mcp-auth/http';
import { randomToken } from '@mcp-auth/oauth';
import { executeCommand, type AggregateCommand } from '@mcp-auth/event-sourcing';
import type { AdminDeps } from '../deps.ts';
import { decide, type WebhookCommand, type WebhookState } from './decider.ts';
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
  const { config, store, webhooks } = deps;
  const secretsKey = config.WEBHOOK_SECRETS_KEY ? parseSecretsKey(config.WEBHOOK_SECRETS_KEY) : null;
  /** A command on one endpoint, decided on what this replica's projection holds of it. */
  const webhookCommand = (command: WebhookCommand): AggregateCommand<WebhookState> => ({
    subject: subjects.webhook(command.data.webhookId),
    load: (version) => webhookStateOf(version === 0 ? null : webhooks.find(command.data.webhookId)),
    decide: (state) => decide(command, state),
  });
  return {
    async register({ url, eventTypes, description }, context) {
      if (!secretsKey) throw WEBHOOKS_OFF;
      const webhookId = `wh_${randomToken(16)}`;
      const secret = generateSigningSecret();
      const encryptedSecret = encryptSigningSecret(secret, secretsKey, webhookId);
      const command: WebhookCommand = { type: 'RegisterWebhook', data: { webhookId, url, eventTypes, description, encryptedSecret, allowPrivateTargets: config.WEBHOOK_ALLOW_PRIVATE_TARGETS } };
      await executeCommand(deps, webhookCommand(command), context, { expectedVersion: 0 });
      const endpoint = webhooks.find(webhookId);
      if (!endpoint) throw new Error('registered webhook is missing from the projection');
      return { endpoint, secret };
    },
    async remove(webhookId, context) {
      await executeCommand(deps, webhookCommand({ type: 'RemoveWebhook', data: { webhookId } }), context);
    },
    async retryDelivery(deliveryId, context) {
      if (!secretsKey) throw WEBHOOKS_OFF;
      if (!isSubjectToken(deliveryId)) throw new DeliveryNotFound();
      // A retry already recorded but not yet tried records nothing: its job is sent again under the same retry's id.
      let version = 0;
      const retry: AggregateCommand<WebhookDelivery | null> = {
        subject: subjects.webhookDelivery(deliveryId),
        load(at) {
          version = at;
          return at === 0 ? null : webhooks.delivery(deliveryId);
        },
        decide: (delivery) => decideRetry(delivery, delivery ? webhooks.find(delivery.webhookId) : null).events,
      };
      const retryPosition = (await executeCommand(deps, retry, context, { attempts: 1 })) ?? version;
      const retried = webhooks.delivery(deliveryId)!;
      const job: DeliveryJob = { deliveryId, webhookId: retried.webhookId, eventId: retried.eventId, eventType: retried.eventType, position: retried.eventPosition! };
      // One job per retry (a resend of the same retry is deduplicated by its message id).
      await store.publishJob(deliverySubject(job.webhookId), JSON.stringify(job), `${deliveryId}.retry.${retryPosition}`);
      return retried;
    },
  };
}

function webhookStateOf(endpoint: WebhookEndpoint | null): WebhookState {
  return { status: endpoint === null ? 'unregistered' : endpoint.status === 'active' ? 'active' : 'removed' };
}
