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

function subject(context: string, aggregate: string, id: string): string {
  if (!isSubjectToken(id)) {
    throw new TypeError(`"${id.slice(0, 40)}" cannot be an aggregate id in a subject`);
  }
  return `events.${context}.${aggregate}.${id}`;
}

export const subjects = {
  client: (clientId: string) => subject('registration', 'client', clientId),
  /** The further registrants of a shared public client: kept apart from the client so that few services receive them. */
  clientRegistrants: (clientId: string) => subject('registration', 'registrants', clientId),
  user: (userId: string) => subject('authorization', 'user', userId),
  /** Sign-in attempts and sessions of one username (which may not exist: failures are recorded all the same). */
  signIn: (userKey: string) => subject('authorization', 'signin', userKey),
  consent: (consentId: string) => subject('authorization', 'consent', consentId),
  authorizationCode: (codeHash: string) => subject('authorization', 'code', codeHash),
  authorizationDenial: (denialId: string) => subject('authorization', 'denial', denialId),
  grant: (grantId: string) => subject('token', 'grant', grantId),
  signingKey: (kid: string) => subject('token', 'key', kid),
  toolInvocation: (invocationId: string) => subject('mcp', 'invocation', invocationId),
  note: (noteId: string) => subject('mcp', 'note', noteId),
  webhook: (webhookId: string) => subject('admin', 'webhook', webhookId),
  webhookDelivery: (deliveryId: string) => subject('admin', 'delivery', deliveryId),
  /** One admin console session, by the hash of its id: where its end is recorded. */
  adminSession: (sessionHash: string) => subject('admin', 'session', sessionHash),
};

/**
 * The aggregate subject of every event type: where it is published, and what optimistic concurrency on
 * it protects. The one place that answers "on which subject does event X live".
 */
export function subjectOf(event: DecidedEvent): string {
  switch (event.type) {
    case 'ClientRegistered':
    case 'ClientReregistered':
    case 'ClientUpdated':
    case 'ClientDeleted':
    case 'ClientExpired':
      return subjects.client(event.data.clientId);
    case 'SharedClientReregistered':
      return subjects.clientRegistrants(event.data.clientId);
    case 'UserCreated':
    case 'UserPasswordRehashed':
      return subjects.user(event.data.userId);
    case 'SignInAttemptAdmitted':
    case 'UserSignedIn':
    case 'UserSignInFailed':
    case 'UserSignedOut':
      return subjects.signIn(event.data.userId);
    case 'ConsentGranted':
    case 'ConsentRevoked':
      return subjects.consent(event.data.consentId);
    case 'AuthorizationCodeIssued':
    case 'AuthorizationCodeRedeemed':
      return subjects.authorizationCode(event.data.codeHash);
    case 'AuthorizationDenied':
      return subjects.authorizationDenial(event.data.denialId);
    case 'RefreshTokenRotated':
    case 'RefreshTokenReuseDetected':
    case 'GrantRevoked':
    case 'TokenRevoked':
      return subjects.grant(event.data.grantId);
    case 'SigningKeyPublished':
    case 'SigningKeyRetired':
      return subjects.signingKey(event.data.kid);
    case 'ToolInvoked':
    case 'ToolDenied':
      return subjects.toolInvocation(event.data.invocationId);
    case 'NoteCreated':
    case 'NoteDeleted':
      return subjects.note(event.data.noteId);
    case 'WebhookRegistered':
    case 'WebhookRemoved':
      return subjects.webhook(event.data.webhookId);
    case 'WebhookDeliveryAttempted':
    case 'WebhookDeliveryDeadLettered':
    case 'WebhookDeliveryRetried':
      return subjects.webhookDelivery(event.data.deliveryId);
    case 'AdminSessionEnded':
      return subjects.adminSession(event.data.sessionHash);
  }
}

/** The aggregate ("<context>.<aggregate>") each event type lives on: the subject says it before the payload is read. */
export const EVENT_AGGREGATES: Record<EventType, string> = {
  ClientRegistered: 'registration.client',
  ClientReregistered: 'registration.client',
  SharedClientReregistered: 'registration.registrants',
  ClientUpdated: 'registration.client',
  ClientDeleted: 'registration.client',
  ClientExpired: 'registration.client',
  UserCreated: 'authorization.user',
  UserPasswordRehashed: 'authorization.user',
  SignInAttemptAdmitted: 'authorization.signin',
  UserSignedIn: 'authorization.signin',
  UserSignInFailed: 'authorization.signin',
  UserSignedOut: 'authorization.signin',
  ConsentGranted: 'authorization.consent',
  ConsentRevoked: 'authorization.consent',
  AuthorizationCodeIssued: 'authorization.code',
  AuthorizationCodeRedeemed: 'authorization.code',
  AuthorizationDenied: 'authorization.denial',
  RefreshTokenRotated: 'token.grant',
  RefreshTokenReuseDetected: 'token.grant',
  GrantRevoked: 'token.grant',
  TokenRevoked: 'token.grant',
  SigningKeyPublished: 'token.key',
  SigningKeyRetired: 'token.key',
  ToolInvoked: 'mcp.invocation',
  ToolDenied: 'mcp.invocation',
  NoteCreated: 'mcp.note',
  NoteDeleted: 'mcp.note',
  WebhookRegistered: 'admin.webhook',
  WebhookRemoved: 'admin.webhook',
  WebhookDeliveryAttempted: 'admin.delivery',
  WebhookDeliveryDeadLettered: 'admin.delivery',
  WebhookDeliveryRetried: 'admin.delivery',
  AdminSessionEnded: 'admin.session',
};

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
