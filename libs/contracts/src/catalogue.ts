import { z } from 'zod';
import { EventMetadataSchema, newEvent, type EventContext, type EventDefinition, type EventOf } from './envelope.ts';
import * as registration from './registration-events.ts';
import * as authorization from './authorization-events.ts';
import * as token from './token-events.ts';
import * as mcp from './mcp-events.ts';
import * as admin from './admin-events.ts';

/** Every event type the platform knows, by name. A new type must be added here to be readable. */
export const eventCatalogue = {
  ClientRegistered: registration.ClientRegistered,
  ClientReregistered: registration.ClientReregistered,
  SharedClientReregistered: registration.SharedClientReregistered,
  ClientUpdated: registration.ClientUpdated,
  ClientDeleted: registration.ClientDeleted,
  ClientExpired: registration.ClientExpired,
  UserCreated: authorization.UserCreated,
  UserPasswordRehashed: authorization.UserPasswordRehashed,
  SignInAttemptAdmitted: authorization.SignInAttemptAdmitted,
  UserSignedIn: authorization.UserSignedIn,
  UserSignInFailed: authorization.UserSignInFailed,
  UserSignedOut: authorization.UserSignedOut,
  ConsentGranted: authorization.ConsentGranted,
  ConsentRevoked: authorization.ConsentRevoked,
  AuthorizationCodeIssued: authorization.AuthorizationCodeIssued,
  AuthorizationDenied: authorization.AuthorizationDenied,
  ClientMetadataDocumentFetched: authorization.ClientMetadataDocumentFetched,
  ClientMetadataDocumentRefreshed: authorization.ClientMetadataDocumentRefreshed,
  ClientMetadataDocumentRefused: authorization.ClientMetadataDocumentRefused,
  AuthorizationCodeRedeemed: token.AuthorizationCodeRedeemed,
  RefreshTokenRotated: token.RefreshTokenRotated,
  RefreshTokenReuseDetected: token.RefreshTokenReuseDetected,
  GrantRevoked: token.GrantRevoked,
  TokenRevoked: token.TokenRevoked,
  SigningKeyPublished: token.SigningKeyPublished,
  SigningKeyRetired: token.SigningKeyRetired,
  ClientAssertionUsed: token.ClientAssertionUsed,
  ToolInvoked: mcp.ToolInvoked,
  ToolDenied: mcp.ToolDenied,
  NoteCreated: mcp.NoteCreated,
  NoteDeleted: mcp.NoteDeleted,
  WebhookRegistered: admin.WebhookRegistered,
  WebhookRemoved: admin.WebhookRemoved,
  WebhookDeliveryAttempted: admin.WebhookDeliveryAttempted,
  WebhookDeliveryDeadLettered: admin.WebhookDeliveryDeadLettered,
  WebhookDeliveryRetried: admin.WebhookDeliveryRetried,
  AdminSessionEnded: admin.AdminSessionEnded,
} as const satisfies Record<string, EventDefinition<string, z.ZodType>>;

type Catalogue = typeof eventCatalogue;
export type EventType = keyof Catalogue;
export type DomainEvent = { [K in EventType]: EventOf<Catalogue[K]> }[EventType];
export type EventOfType<T extends EventType> = Extract<DomainEvent, { type: T }>;

export function isKnownEventType(type: string): type is EventType {
  return Object.hasOwn(eventCatalogue, type);
}

export type DecodeOutcome =
  | { kind: 'event'; event: DomainEvent }
  | { kind: 'unknown_type'; type: string }
  | { kind: 'newer_version'; type: string; version: number }
  | { kind: 'invalid'; reason: string }
  /** A known type on a subject that is not its aggregate's (see decodeEventOn): written by someone who may not write it. */
  | { kind: 'misplaced'; type: EventType; subject: string };

const EnvelopeShape = z.object({ type: z.string(), data: z.unknown(), metadata: EventMetadataSchema });

/**
 * Validates an event read from the stream. Readers must skip, never crash on, anything that is not
 * an event they understand: a type added by a newer service, a newer schema version, or garbage.
 */
export function decodeEvent(payload: string | Uint8Array): DecodeOutcome {
  let raw: unknown;
  try {
    // A view on the message's bytes, not a copy: every service decodes every event it applies.
    raw = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    return { kind: 'invalid', reason: 'payload is not JSON' };
  }
  const envelope = EnvelopeShape.safeParse(raw);
  if (!envelope.success) return { kind: 'invalid', reason: 'not an event envelope' };
  const { type, metadata } = envelope.data;
  if (!isKnownEventType(type)) return { kind: 'unknown_type', type };
  const definition = eventCatalogue[type];
  if (metadata.schemaVersion > definition.version) {
    return { kind: 'newer_version', type, version: metadata.schemaVersion };
  }
  const data = definition.schema.safeParse(envelope.data.data);
  if (!data.success) return { kind: 'invalid', reason: `${type}: ${data.error.issues[0]?.message ?? 'bad data'}` };
  return { kind: 'event', event: { type, data: data.data, metadata } as DomainEvent };
}

/** What a decider returns: the type and data of an event, before metadata and a stream position. */
export type DecidedEvent<E extends DomainEvent = DomainEvent> = E extends DomainEvent ? Pick<E, 'type' | 'data'> : never;

/** Wraps a decided event in its envelope, with the schema version the catalogue gives its type. */
export function toEnvelope(event: DecidedEvent, context: EventContext): DomainEvent {
  const definition = eventCatalogue[event.type];
  return newEvent(definition as EventDefinition<string, z.ZodType>, event.data, context) as DomainEvent;
}
