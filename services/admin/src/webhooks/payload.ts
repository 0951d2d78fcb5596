import { consentRevocationReason, type DomainEvent, type RecordedEvent } from '@mcp-auth/contracts';

/**
 * What a webhook receiver learns of an event: an explicit allow-list per type, so a field added to an event
 * later is not sent anywhere until someone decides it may be. Hashes of credentials, encrypted secrets, PKCE
 * challenges, session hashes and note contents never leave. The switch is exhaustive: a new event type does
 * not compile until it is listed here. null: the type is never delivered (the webhook context's own events).
 */
export function deliverableData(event: DomainEvent): Record<string, unknown> | null {
  switch (event.type) {
    case 'ClientRegistered': {
      const { clientId, clientIdIssuedAt, metadata } = event.data;
      return { clientId, clientIdIssuedAt, metadata };
    }
    case 'ClientReregistered':
    case 'SharedClientReregistered':
      return { clientId: event.data.clientId };
    case 'ClientUpdated':
      return { clientId: event.data.clientId, metadata: event.data.metadata };
    case 'ClientDeleted':
      return { clientId: event.data.clientId };
    case 'ClientExpired': {
      const { clientId, lastUsedAt, idleDays } = event.data;
      return { clientId, lastUsedAt, idleDays };
    }
    case 'UserCreated':
      return { userId: event.data.userId, username: event.data.username };
    case 'UserPasswordRehashed':
      return { userId: event.data.userId };
    case 'SignInAttemptAdmitted': {
      const { attemptId, userId, username, clientAddress } = event.data;
      return { attemptId, userId, username, clientAddress };
    }
    case 'UserSignedIn':
      return { userId: event.data.userId, expiresAt: event.data.expiresAt };
    case 'UserSignInFailed': {
      const { username, userId, userExists, clientAddress, reason } = event.data;
      return { username, userId, userExists, clientAddress, reason };
    }
    case 'UserSignedOut':
      return { userId: event.data.userId };
    case 'ConsentGranted': {
      const { consentId, userId, clientId, resource, scopes } = event.data;
      return { consentId, userId, clientId, resource, scopes };
    }
    case 'ConsentRevoked': {
      const { consentId, userId, clientId } = event.data;
      return { consentId, userId, clientId, reason: consentRevocationReason(event.data) };
    }
    case 'AuthorizationCodeIssued': {
      const { clientId, userId, redirectUri, resource, scopes, consentId, expiresAt } = event.data;
      return { clientId, userId, redirectUri, resource, scopes, consentId, expiresAt };
    }
    case 'AuthorizationDenied': {
      const { denialId, clientId, userId, resource, scopes } = event.data;
      return { denialId, clientId, userId, resource, scopes };
    }
    case 'ClientMetadataDocumentFetched': {
      const { clientId, documentHash, metadata, verifiedHost, localhostOnly, fetchedAt, freshUntil, previousDocumentHash, changed } = event.data;
      return { clientId, documentHash, metadata, verifiedHost, localhostOnly, fetchedAt, freshUntil, previousDocumentHash, changed };
    }
    case 'ClientMetadataDocumentRefreshed': {
      const { clientId, documentHash, fetchedAt, freshUntil } = event.data;
      return { clientId, documentHash, fetchedAt, freshUntil };
    }
    case 'ClientMetadataDocumentRefused': {
      const { clientId, reason, description } = event.data;
      return { clientId, reason, description };
    }
    case 'AuthorizationCodeRedeemed': {
      const { grantId, clientId, userId, resource, scopes, consentId, accessTokenJti, accessTokenExpiresAt, grantExpiresAt } = event.data;
      return { grantId, clientId, userId, resource, scopes, consentId, accessTokenJti, accessTokenExpiresAt, grantExpiresAt };
    }
    case 'RefreshTokenRotated': {
      const { grantId, clientId, scopes, accessTokenJti, accessTokenExpiresAt, graceRetry } = event.data;
      return { grantId, clientId, scopes, accessTokenJti, accessTokenExpiresAt, graceRetry };
    }
    case 'RefreshTokenReuseDetected':
      return { grantId: event.data.grantId, clientId: event.data.clientId };
    case 'GrantRevoked': {
      const { grantId, reason, consentId } = event.data;
      return { grantId, reason, ...(consentId ? { consentId } : {}) };
    }
    case 'TokenRevoked': {
      const { grantId, jti, expiresAt } = event.data;
      return { grantId, jti, expiresAt };
    }
    case 'SigningKeyPublished': {
      const { kid, alg, publicJwk, signsUntil, retireAfter } = event.data;
      return { kid, alg, publicJwk, signsUntil, retireAfter };
    }
    case 'SigningKeyRetired':
      return { kid: event.data.kid };
    case 'ClientAssertionUsed':
      return { clientId: event.data.clientId, expiresAt: event.data.expiresAt };
    case 'ToolInvoked': {
      const { invocationId, tool, userId, clientId, grantId, outcome, durationMs } = event.data;
      return { invocationId, tool, userId, clientId, grantId, outcome, durationMs };
    }
    case 'ToolDenied': {
      const { invocationId, tool, userId, clientId, grantId, reason, requiredScopes } = event.data;
      return { invocationId, tool, userId, clientId, grantId, reason, requiredScopes };
    }
    case 'NoteCreated':
    case 'NoteDeleted':
      // A note's title and text are the user's own content.
      return { noteId: event.data.noteId, userId: event.data.userId };
    case 'WebhookRegistered':
    case 'WebhookRemoved':
    case 'WebhookDeliveryAttempted':
    case 'WebhookDeliveryDeadLettered':
    case 'WebhookDeliveryRetried':
    case 'AdminSessionEnded':
      return null;
  }
}

/**
 * The request body, per Standard Webhooks: { type, timestamp, data }. data carries the event's identity
 * (id, stream position, time, actor) and its deliverable fields under `event`, so that no field of an
 * event can shadow the envelope's.
 */
export function webhookBody(event: RecordedEvent<DomainEvent>): string | null {
  const data = deliverableData(event);
  if (data === null) return null;
  return JSON.stringify({
    type: event.type,
    timestamp: event.metadata.occurredAt,
    data: {
      eventId: event.metadata.eventId,
      position: event.position,
      occurredAt: event.metadata.occurredAt,
      schemaVersion: event.metadata.schemaVersion,
      actor: event.metadata.actor,
      event: data,
    },
  });
}
