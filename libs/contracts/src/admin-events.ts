import { z } from 'zod';
import { defineEvent, type EventOf } from './envelope.ts';

/**
 * An operator subscribed an endpoint to events. The signing secret is in the log only encrypted
 * (AES-256-GCM under WEBHOOK_SECRETS_KEY): every replica of the admin service must sign with it.
 */
export const WebhookRegistered = defineEvent(
  'WebhookRegistered',
  1,
  z.object({
    webhookId: z.string(),
    url: z.string(),
    /** Event types delivered; ["*"] for every type. */
    eventTypes: z.array(z.string()).min(1),
    description: z.string(),
    encryptedSecret: z.string(),
  }),
);

export const WebhookRemoved = defineEvent('WebhookRemoved', 1, z.object({ webhookId: z.string() }));

/** One try to deliver one event to one endpoint. deliveryId is the webhook-id header: the same on every try. */
export const WebhookDeliveryAttempted = defineEvent(
  'WebhookDeliveryAttempted',
  1,
  z.object({
    deliveryId: z.string(),
    webhookId: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    attempt: z.number().int().positive(),
    outcome: z.enum(['delivered', 'failed']),
    status: z.number().int().nullable(),
    error: z.string().nullable(),
    durationMs: z.number(),
  }),
);

/** Every try failed; the delivery is given up and waits for an operator. */
export const WebhookDeliveryDeadLettered = defineEvent(
  'WebhookDeliveryDeadLettered',
  1,
  z.object({
    deliveryId: z.string(),
    webhookId: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    attempts: z.number().int().positive(),
    lastError: z.string(),
    /** Stream position of the event being delivered, so that an operator's retry can send it again. */
    eventPosition: z.number().int().positive().optional(),
  }),
);

/** An operator sent a dead-lettered delivery again: it gets WEBHOOK_MAX_ATTEMPTS more tries, with the same webhook-id. */
export const WebhookDeliveryRetried = defineEvent(
  'WebhookDeliveryRetried',
  1,
  z.object({
    deliveryId: z.string(),
    webhookId: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    eventPosition: z.number().int().positive(),
  }),
);

/**
 * An operator signed out of the console. Console sessions are signed cookies any replica can check; this is
 * how every replica learns that one of them no longer counts, even when its cookie is presented again.
 */
export const AdminSessionEnded = defineEvent(
  'AdminSessionEnded',
  1,
  z.object({
    /** base64url SHA-256 of the session's random id (the cookie holds the id, never the log). */
    sessionHash: z.string(),
    /** When the session would have expired anyway (unix seconds): after it, nobody needs to remember its end. */
    expiresAt: z.number().int(),
  }),
);

export type WebhookRegistered = EventOf<typeof WebhookRegistered>;
export type WebhookRemoved = EventOf<typeof WebhookRemoved>;
export type WebhookDeliveryAttempted = EventOf<typeof WebhookDeliveryAttempted>;
export type WebhookDeliveryDeadLettered = EventOf<typeof WebhookDeliveryDeadLettered>;
export type WebhookDeliveryRetried = EventOf<typeof WebhookDeliveryRetried>;
export type AdminSessionEnded = EventOf<typeof AdminSessionEnded>;
