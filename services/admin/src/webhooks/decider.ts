import { EVENT_AGGREGATES, isKnownEventType, type DecidedEvent, type Decider, type EventType } from '@mcp-auth/contracts';
import { HttpError } from '@mcp-auth/http';
import { checkTargetUrl } from './targets.ts';

export type RegisterWebhook = {
  type: 'RegisterWebhook';
  data: {
    webhookId: string;
    url: string;
    eventTypes: readonly string[];
    description: string;
    encryptedSecret: string;
    /** WEBHOOK_ALLOW_PRIVATE_TARGETS: loopback and private targets, and plain http, are allowed. */
    allowPrivateTargets: boolean;
  };
};
export type RemoveWebhook = { type: 'RemoveWebhook'; data: { webhookId: string } };
export type WebhookCommand = RegisterWebhook | RemoveWebhook;

export type WebhookState = { status: 'unregistered' | 'active' | 'removed' };

/** 400 invalid_request: the registration is malformed. */
export class InvalidWebhook extends HttpError {
  constructor(description: string) {
    super(400, { error: 'invalid_request', error_description: description });
  }
}

/** 400 invalid_target: the URL points where this server refuses to send requests (SSRF). */
export class RefusedWebhookTarget extends HttpError {
  constructor(description: string) {
    super(400, { error: 'invalid_target', error_description: description });
  }
}

export class WebhookNotFound extends HttpError {
  constructor() {
    super(404, { error: 'not_found', error_description: 'No such webhook.' });
  }
}

/** Ids are random: only a replayed command meets an existing endpoint. */
export class WebhookIdTaken extends HttpError {
  constructor() {
    super(409, { error: 'conflict', error_description: 'A webhook with this id exists.' });
  }
}

/** A refused target names the setting that allows it, for the operator who meant it (a receiver on this machine, in testing). */
const PRIVATE_TARGETS_SETTING = 'WEBHOOK_ALLOW_PRIVATE_TARGETS=true on the admin service allows loopback and private-network targets.';

export const MAX_EVENT_TYPES = 50;
export const MAX_DESCRIPTION_LENGTH = 500;
export const EVERY_EVENT = '*';

/**
 * Whether an event type can be subscribed to. The webhook context's own events (registrations, delivery
 * attempts, dead letters) cannot: delivering a delivery attempt would cause another one, forever.
 */
export function isSubscribableEventType(type: string): type is EventType {
  if (!isKnownEventType(type)) return false;
  const aggregate = EVENT_AGGREGATES[type];
  return aggregate !== 'admin.webhook' && aggregate !== 'admin.delivery';
}

export function decide(command: WebhookCommand, state: WebhookState): DecidedEvent[] {
  switch (command.type) {
    case 'RegisterWebhook': {
      if (state.status !== 'unregistered') throw new WebhookIdTaken();
      const d = command.data;
      const target = checkTargetUrl(d.url, d.allowPrivateTargets);
      if (!target.ok) throw target.reason === 'refused' ? new RefusedWebhookTarget(`${target.description} ${PRIVATE_TARGETS_SETTING}`) : new InvalidWebhook(target.description);
      return [
        {
          type: 'WebhookRegistered',
          data: {
            webhookId: d.webhookId,
            url: target.url.href,
            eventTypes: validEventTypes(d.eventTypes),
            description: validDescription(d.description),
            encryptedSecret: d.encryptedSecret,
          },
        },
      ];
    }
    case 'RemoveWebhook':
      if (state.status !== 'active') throw new WebhookNotFound();
      return [{ type: 'WebhookRemoved', data: { webhookId: command.data.webhookId } }];
  }
}

export const webhookDecider = { decide } satisfies Decider<WebhookCommand, WebhookState>;

function validEventTypes(types: readonly string[]): string[] {
  if (types.length === 0) throw new InvalidWebhook('event_types must name at least one event type, or "*".');
  if (types.length > MAX_EVENT_TYPES) throw new InvalidWebhook(`event_types may name at most ${MAX_EVENT_TYPES} event types.`);
  for (const type of types) {
    if (type === EVERY_EVENT || isSubscribableEventType(type)) continue;
    const shown = /^[A-Za-z0-9_.*-]{1,60}$/.test(type) ? `"${type}"` : 'an entry';
    throw new InvalidWebhook(
      isKnownEventType(type)
        ? `event_types: ${shown} cannot be subscribed to (deliveries of webhook events would loop).`
        : `event_types: ${shown} is not an event type.`,
    );
  }
  if (types.includes(EVERY_EVENT)) return [EVERY_EVENT];
  return [...new Set(types)];
}

function validDescription(description: string): string {
  const text = description.trim();
  if (text.length > MAX_DESCRIPTION_LENGTH) throw new InvalidWebhook(`description is longer than ${MAX_DESCRIPTION_LENGTH} characters.`);
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) throw new InvalidWebhook('description must not contain control characters.');
  return text;
}
