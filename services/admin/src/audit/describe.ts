import { consentRevocationReason, type ClientMetadata, type DomainEvent, type EventOfType, type EventType } from '@mcp-auth/contracts';

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** What the audit trail records of an event's data: whom it concerns, how it ended, and what is safe to show. */
export type AuditDescription = {
  userId: string | null;
  clientId: string | null;
  /** The grant the event belongs to; the projection finds its user and client when the event does not name them. */
  grantId: string | null;
  outcome: AuditOutcome;
  details: Record<string, unknown>;
};

type Describe<T extends EventType> = (data: EventOfType<T>['data']) => AuditDescription;

/**
 * The audit trail's allow-list, one entry per event type: only what is written here ever leaves the log.
 * Hashes of secrets (client secrets, registration tokens, passwords, sessions, codes, PKCE challenges,
 * refresh tokens), encrypted webhook secrets, fingerprints and users' note contents are never copied.
 * A mapped type, so a new event type does not compile until it is described here.
 */
export const AUDIT_DESCRIPTIONS: { [T in EventType]: Describe<T> } = {
  ClientRegistered: (d) => ({
    ...concerning(null, d.clientId),
    details: { clientId: d.clientId, confidential: d.clientSecretHash !== null, ...clientMetadataDetails(d.metadata) },
  }),
  ClientReregistered: (d) => ({ ...concerning(null, d.clientId), details: { clientId: d.clientId } }),
  SharedClientReregistered: (d) => ({ ...concerning(null, d.clientId), details: { clientId: d.clientId } }),
  ClientUpdated: (d) => ({ ...concerning(null, d.clientId), details: { clientId: d.clientId, ...clientMetadataDetails(d.metadata) } }),
  ClientDeleted: (d) => ({ ...concerning(null, d.clientId), details: { clientId: d.clientId } }),
  ClientExpired: (d) => ({ ...concerning(null, d.clientId), details: { clientId: d.clientId, lastUsedAt: d.lastUsedAt, idleDays: d.idleDays } }),

  UserCreated: (d) => ({ ...concerning(d.userId, null), details: { userId: d.userId, username: d.username } }),
  // The new hash is a password hash: only the fact is shown.
  UserPasswordRehashed: (d) => ({ ...concerning(d.userId, null), details: { userId: d.userId } }),
  SignInAttemptAdmitted: (d) => ({
    ...concerning(d.userId, null),
    details: { userId: d.userId, username: d.username, attemptId: d.attemptId, clientAddress: d.clientAddress },
  }),
  UserSignedIn: (d) => ({ ...concerning(d.userId, null), details: { userId: d.userId, sessionExpiresAt: d.expiresAt, attemptId: d.attemptId ?? null } }),
  UserSignInFailed: (d) => ({
    ...concerning(d.userId, null),
    outcome: 'failure',
    details: { userId: d.userId, username: d.username, userExists: d.userExists, reason: d.reason, clientAddress: d.clientAddress, attemptId: d.attemptId ?? null },
  }),
  UserSignedOut: (d) => ({ ...concerning(d.userId, null), details: { userId: d.userId } }),

  ConsentGranted: (d) => ({
    ...concerning(d.userId, d.clientId),
    details: { consentId: d.consentId, userId: d.userId, clientId: d.clientId, resource: d.resource, scopes: d.scopes },
  }),
  ConsentRevoked: (d) => ({ ...concerning(d.userId, d.clientId), details: { consentId: d.consentId, userId: d.userId, clientId: d.clientId, reason: consentRevocationReason(d) } }),
  AuthorizationCodeIssued: (d) => ({
    ...concerning(d.userId, d.clientId),
    details: {
      userId: d.userId,
      clientId: d.clientId,
      consentId: d.consentId,
      redirectUri: d.redirectUri,
      resource: d.resource,
      scopes: d.scopes,
      codeChallengeMethod: d.codeChallengeMethod,
      expiresAt: d.expiresAt,
    },
  }),
  AuthorizationDenied: (d) => ({
    ...concerning(d.userId, d.clientId),
    outcome: 'denied',
    details: { denialId: d.denialId, userId: d.userId, clientId: d.clientId, resource: d.resource, scopes: d.scopes },
  }),

  ClientMetadataDocumentFetched: (d) => ({
    ...concerning(null, d.clientId),
    details: {
      clientId: d.clientId,
      verifiedHost: d.verifiedHost,
      localhostOnly: d.localhostOnly,
      documentHash: d.documentHash,
      freshUntil: d.freshUntil,
      change: d.previousDocumentHash === null ? 'first document' : `document changed: ${d.changed.join(', ') || 'formatting only'}`,
      ...clientMetadataDetails(d.metadata),
      jwksUri: d.metadata.jwks_uri ?? null,
    },
  }),
  ClientMetadataDocumentRefreshed: (d) => ({ ...concerning(null, d.clientId), details: { clientId: d.clientId, documentHash: d.documentHash, freshUntil: d.freshUntil, change: 'document unchanged' } }),
  ClientMetadataDocumentRefused: (d) => ({ ...concerning(null, d.clientId), outcome: 'failure', details: { clientId: d.clientId, reason: d.reason, description: d.description } }),

  AuthorizationCodeRedeemed: (d) => ({
    ...concerning(d.userId, d.clientId, d.grantId),
    details: {
      grantId: d.grantId,
      userId: d.userId,
      clientId: d.clientId,
      consentId: d.consentId,
      resource: d.resource,
      scopes: d.scopes,
      accessTokenJti: d.accessTokenJti,
      accessTokenExpiresAt: d.accessTokenExpiresAt,
      grantExpiresAt: d.grantExpiresAt,
    },
  }),
  RefreshTokenRotated: (d) => ({
    ...concerning(null, d.clientId, d.grantId),
    details: {
      grantId: d.grantId,
      clientId: d.clientId,
      scopes: d.scopes,
      accessTokenJti: d.accessTokenJti,
      accessTokenExpiresAt: d.accessTokenExpiresAt,
      graceRetry: d.graceRetry,
    },
  }),
  RefreshTokenReuseDetected: (d) => ({ ...concerning(null, d.clientId, d.grantId), outcome: 'failure', details: { grantId: d.grantId, clientId: d.clientId } }),
  GrantRevoked: (d) => ({ ...concerning(null, null, d.grantId), details: { grantId: d.grantId, reason: d.reason, ...(d.consentId ? { consentId: d.consentId } : {}) } }),
  TokenRevoked: (d) => ({ ...concerning(null, null, d.grantId), details: { grantId: d.grantId, jti: d.jti, expiresAt: d.expiresAt } }),
  SigningKeyPublished: (d) => ({
    ...concerning(null, null),
    details: { kid: d.kid, alg: d.alg, signsUntil: d.signsUntil, retireAfter: d.retireAfter },
  }),
  SigningKeyRetired: (d) => ({ ...concerning(null, null), details: { kid: d.kid } }),
  ClientAssertionUsed: (d) => ({ ...concerning(null, d.clientId), details: { clientId: d.clientId, expiresAt: d.expiresAt } }),

  ToolInvoked: (d) => ({
    ...concerning(d.userId, d.clientId, d.grantId),
    outcome: d.outcome === 'success' ? 'success' : 'failure',
    details: { invocationId: d.invocationId, tool: d.tool, userId: d.userId, clientId: d.clientId, grantId: d.grantId, result: d.outcome, durationMs: d.durationMs },
  }),
  ToolDenied: (d) => ({
    ...concerning(d.userId, d.clientId, d.grantId),
    outcome: 'denied',
    details: {
      invocationId: d.invocationId,
      tool: d.tool,
      userId: d.userId,
      clientId: d.clientId,
      grantId: d.grantId,
      reason: d.reason,
      requiredScopes: d.requiredScopes,
    },
  }),
  // Title and text are the user's own content, not the operator's business.
  NoteCreated: (d) => ({ ...concerning(d.userId, null), details: { noteId: d.noteId, userId: d.userId } }),
  NoteDeleted: (d) => ({ ...concerning(d.userId, null), details: { noteId: d.noteId, userId: d.userId } }),

  WebhookRegistered: (d) => ({
    ...concerning(null, null),
    details: { webhookId: d.webhookId, target: originOf(d.url), eventTypes: d.eventTypes, description: d.description },
  }),
  WebhookRemoved: (d) => ({ ...concerning(null, null), details: { webhookId: d.webhookId } }),
  WebhookDeliveryAttempted: (d) => ({
    ...concerning(null, null),
    outcome: d.outcome === 'delivered' ? 'success' : 'failure',
    details: {
      deliveryId: d.deliveryId,
      webhookId: d.webhookId,
      eventId: d.eventId,
      eventType: d.eventType,
      attempt: d.attempt,
      result: d.outcome,
      status: d.status,
      error: d.error === null ? null : withoutUrlPaths(d.error),
      durationMs: d.durationMs,
    },
  }),
  WebhookDeliveryDeadLettered: (d) => ({
    ...concerning(null, null),
    outcome: 'failure',
    details: {
      deliveryId: d.deliveryId,
      webhookId: d.webhookId,
      eventId: d.eventId,
      eventType: d.eventType,
      attempts: d.attempts,
      lastError: withoutUrlPaths(d.lastError),
    },
  }),
  WebhookDeliveryRetried: (d) => ({
    ...concerning(null, null),
    outcome: 'success',
    details: { deliveryId: d.deliveryId, webhookId: d.webhookId, eventId: d.eventId, eventType: d.eventType },
  }),
  // The session hash names a console session: only when it would have expired is shown.
  AdminSessionEnded: (d) => ({ ...concerning(null, null), details: { sessionExpiresAt: d.expiresAt } }),
};

/** The audit description of a decoded event. */
export function describeEvent(event: Pick<DomainEvent, 'type' | 'data'>): AuditDescription {
  const describe = AUDIT_DESCRIPTIONS[event.type] as (data: unknown) => AuditDescription;
  return describe(event.data);
}

function concerning(userId: string | null, clientId: string | null, grantId: string | null = null): Omit<AuditDescription, 'details'> {
  return { userId, clientId, grantId, outcome: 'success' };
}

/** What an operator needs to know of a client's registration; contacts and the other URIs are left out. */
function clientMetadataDetails(m: Omit<ClientMetadata, 'token_endpoint_auth_method'> & { token_endpoint_auth_method: string }): Record<string, unknown> {
  return {
    clientName: m.client_name ?? null,
    applicationType: m.application_type,
    tokenEndpointAuthMethod: m.token_endpoint_auth_method,
    grantTypes: m.grant_types,
    redirectUris: m.redirect_uris,
    scope: m.scope ?? null,
    softwareId: m.software_id ?? null,
    softwareVersion: m.software_version ?? null,
  };
}

/**
 * Webhook URLs often carry their credential in the path or query (https://hooks.example.com/services/T0/B0/secret),
 * so the trail shows only the origin, also where a URL turns up inside an error message.
 */
function originOf(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.origin === 'null' ? '(unparseable URL)' : parsed.origin;
  } catch {
    return '(unparseable URL)';
  }
}

function withoutUrlPaths(text: string): string {
  return text.slice(0, 2_000).replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (url) => originOf(url.replace(/[).,;:]+$/, ''))).slice(0, 500);
}
