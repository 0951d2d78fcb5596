import { createHash } from 'node:crypto';
import { decodeEvent, type DecidedEvent, type DecodeOutcome, type EventType } from './catalogue.ts';

/**
 * One stream holds every event; subjects are events.<context>.<aggregate>.<id>.
 * The event type lives in the payload (and a header), never in the subject, so that
 * optimistic concurrency on an aggregate's subject covers every kind of event it has.
 */
export const STREAM_NAME = 'EVENTS';
export const STREAM_SUBJECTS = 'events.>';

const SUBJECT_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export function isSubjectToken(value: string): boolean {
  return SUBJECT_TOKEN.test(value);
}

/** The subject of one aggregate ("<context>.<aggregate>"): events.<context>.<aggregate>.<id>. */
function subject(aggregate: string, id: string): string {
  if (!isSubjectToken(id)) {
    throw new TypeError(`"${id.slice(0, 40)}" cannot be an aggregate id in a subject`);
  }
  return `events.${aggregate}.${id}`;
}

export const subjects = {
  client: (clientId: string) => subject('registration.client', clientId),
  /** The further registrants of a shared public client: kept apart from the client so that few services receive them. */
  clientRegistrants: (clientId: string) => subject('registration.registrants', clientId),
  user: (userId: string) => subject('authorization.user', userId),
  /** Sign-in attempts and sessions of one username (which may not exist: failures are recorded all the same). */
  signIn: (userKey: string) => subject('authorization.signin', userKey),
  consent: (consentId: string) => subject('authorization.consent', consentId),
  authorizationCode: (codeHash: string) => subject('authorization.code', codeHash),
  authorizationDenial: (denialId: string) => subject('authorization.denial', denialId),
  /** One client metadata document, by clientDocumentKey(client_id): a URL cannot be a subject token. */
  clientDocument: (clientKey: string) => subject('authorization.clientdoc', clientKey),
  grant: (grantId: string) => subject('token.grant', grantId),
  signingKey: (kid: string) => subject('token.key', kid),
  /** One client assertion's single use, by its replay key (a hash of client_id and jti). */
  clientAssertion: (replayKey: string) => subject('token.assertion', replayKey),
  toolInvocation: (invocationId: string) => subject('mcp.invocation', invocationId),
  note: (noteId: string) => subject('mcp.note', noteId),
  webhook: (webhookId: string) => subject('admin.webhook', webhookId),
  webhookDelivery: (deliveryId: string) => subject('admin.delivery', deliveryId),
  /** One admin console session, by the hash of its id: where its end is recorded. */
  adminSession: (sessionHash: string) => subject('admin.session', sessionHash),
};

/** The subject id of a client_id that is a metadata document's URL: base64url SHA-256 of the URL as sent. */
export function clientDocumentKey(clientId: string): string {
  return createHash('sha256').update(clientId).digest('base64url');
}

/** Where events of type T live: their aggregate ("<context>.<aggregate>"), and the field of their data that names its instance. */
type EventHome<T extends EventType> = { aggregate: string; id: keyof Extract<DecidedEvent, { type: T }>['data'] & string };

/**
 * The aggregate of every event type and the data field of its id: where an event is published, and what
 * optimistic concurrency on its subject protects. The one place that answers "on which subject does event X live".
 */
const EVENT_HOMES: { readonly [T in EventType]: EventHome<T> } = {
  ClientRegistered: { aggregate: 'registration.client', id: 'clientId' },
  ClientReregistered: { aggregate: 'registration.client', id: 'clientId' },
  SharedClientReregistered: { aggregate: 'registration.registrants', id: 'clientId' },
  ClientUpdated: { aggregate: 'registration.client', id: 'clientId' },
  ClientDeleted: { aggregate: 'registration.client', id: 'clientId' },
  ClientExpired: { aggregate: 'registration.client', id: 'clientId' },
  UserCreated: { aggregate: 'authorization.user', id: 'userId' },
  UserPasswordRehashed: { aggregate: 'authorization.user', id: 'userId' },
  SignInAttemptAdmitted: { aggregate: 'authorization.signin', id: 'userId' },
  UserSignedIn: { aggregate: 'authorization.signin', id: 'userId' },
  UserSignInFailed: { aggregate: 'authorization.signin', id: 'userId' },
  UserSignedOut: { aggregate: 'authorization.signin', id: 'userId' },
  ConsentGranted: { aggregate: 'authorization.consent', id: 'consentId' },
  ConsentRevoked: { aggregate: 'authorization.consent', id: 'consentId' },
  AuthorizationCodeIssued: { aggregate: 'authorization.code', id: 'codeHash' },
  AuthorizationCodeRedeemed: { aggregate: 'authorization.code', id: 'codeHash' },
  AuthorizationDenied: { aggregate: 'authorization.denial', id: 'denialId' },
  ClientMetadataDocumentFetched: { aggregate: 'authorization.clientdoc', id: 'clientKey' },
  ClientMetadataDocumentRefreshed: { aggregate: 'authorization.clientdoc', id: 'clientKey' },
  ClientMetadataDocumentRefused: { aggregate: 'authorization.clientdoc', id: 'clientKey' },
  RefreshTokenRotated: { aggregate: 'token.grant', id: 'grantId' },
  RefreshTokenReuseDetected: { aggregate: 'token.grant', id: 'grantId' },
  GrantRevoked: { aggregate: 'token.grant', id: 'grantId' },
  TokenRevoked: { aggregate: 'token.grant', id: 'grantId' },
  SigningKeyPublished: { aggregate: 'token.key', id: 'kid' },
  SigningKeyRetired: { aggregate: 'token.key', id: 'kid' },
  ClientAssertionUsed: { aggregate: 'token.assertion', id: 'replayKey' },
  ToolInvoked: { aggregate: 'mcp.invocation', id: 'invocationId' },
  ToolDenied: { aggregate: 'mcp.invocation', id: 'invocationId' },
  NoteCreated: { aggregate: 'mcp.note', id: 'noteId' },
  NoteDeleted: { aggregate: 'mcp.note', id: 'noteId' },
  WebhookRegistered: { aggregate: 'admin.webhook', id: 'webhookId' },
  WebhookRemoved: { aggregate: 'admin.webhook', id: 'webhookId' },
  WebhookDeliveryAttempted: { aggregate: 'admin.delivery', id: 'deliveryId' },
  WebhookDeliveryDeadLettered: { aggregate: 'admin.delivery', id: 'deliveryId' },
  WebhookDeliveryRetried: { aggregate: 'admin.delivery', id: 'deliveryId' },
  AdminSessionEnded: { aggregate: 'admin.session', id: 'sessionHash' },
};

/** The aggregate subject of an event: events.<its aggregate>.<the id its data names>. */
export function subjectOf(event: DecidedEvent): string {
  const home = EVENT_HOMES[event.type];
  return subject(home.aggregate, (event.data as Record<string, string>)[home.id]!);
}

/** The aggregate ("<context>.<aggregate>") each event type lives on: the subject says it before the payload is read. */
export const EVENT_AGGREGATES = Object.fromEntries(Object.entries(EVENT_HOMES).map(([type, home]) => [type, home.aggregate])) as Readonly<Record<EventType, string>>;

/** "<context>.<aggregate>" of a subject events.<context>.<aggregate>.<id>, or null for anything else. */
export function aggregateOfSubject(subject: string): string | null {
  const first = subject.indexOf('.');
  const second = subject.indexOf('.', first + 1);
  const third = subject.indexOf('.', second + 1);
  if (first < 0 || second < 0 || third < 0 || subject.slice(0, first) !== 'events') return null;
  return subject.slice(first + 1, third);
}

/**
 * decodeEvent for an event read from a subject: a type that does not belong to the subject's aggregate is
 * 'misplaced', never an event. NATS permissions let each identity write only its own context's subjects but
 * cannot see the type inside a payload, so a SigningKeyPublished that mcp-tools wrote on events.mcp.note.<id>
 * must not be believed: wherever events are read and trusted, they are read through this.
 */
export function decodeEventOn(subject: string, payload: string | Uint8Array): DecodeOutcome {
  const outcome = decodeEvent(payload);
  if (outcome.kind === 'event' && EVENT_AGGREGATES[outcome.event.type] !== aggregateOfSubject(subject)) {
    return { kind: 'misplaced', type: outcome.event.type, subject };
  }
  return outcome;
}
