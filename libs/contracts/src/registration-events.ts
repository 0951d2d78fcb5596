import { z } from 'zod';
import { defineEvent, type EventOf } from './envelope.ts';

export const TokenEndpointAuthMethod = z.enum(['none', 'client_secret_post', 'client_secret_basic', 'private_key_jwt']);
export type TokenEndpointAuthMethod = z.infer<typeof TokenEndpointAuthMethod>;

/** Client metadata as stored: already validated and normalised by the registration service. */
export const ClientMetadataSchema = z.object({
  redirect_uris: z.array(z.string()),
  token_endpoint_auth_method: TokenEndpointAuthMethod,
  grant_types: z.array(z.string()),
  response_types: z.array(z.string()),
  application_type: z.enum(['native', 'web']),
  client_name: z.string().optional(),
  client_uri: z.string().optional(),
  logo_uri: z.string().optional(),
  tos_uri: z.string().optional(),
  policy_uri: z.string().optional(),
  scope: z.string().optional(),
  contacts: z.array(z.string()).optional(),
  software_id: z.string().optional(),
  software_version: z.string().optional(),
  /** private_key_jwt (RFC 7523): the client's public keys, inline or where to fetch them (never both, RFC 7591 §2). */
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
  jwks_uri: z.string().optional(),
  /** The one algorithm the client signs its assertions with, when it names one. */
  token_endpoint_auth_signing_alg: z.string().optional(),
});
export type ClientMetadata = z.infer<typeof ClientMetadataSchema>;

export const ClientRegistered = defineEvent(
  'ClientRegistered',
  1,
  z.object({
    clientId: z.string(),
    clientIdIssuedAt: z.number().int(),
    metadata: ClientMetadataSchema,
    clientSecretHash: z.string().nullable(),
    registrationTokenHash: z.string(),
    /** Set for public clients whose registration is idempotent: the hash of their canonical metadata. */
    fingerprint: z.string().nullable(),
  }),
);

/**
 * A second registrant sent a public client's metadata again: it gets the existing client and a registration
 * token of its own, and the client is shared from now on (no one registrant may change or delete it). On the
 * client's subject, so an update or deletion decided before it fails its expected-sequence check.
 */
export const ClientReregistered = defineEvent(
  'ClientReregistered',
  1,
  z.object({ clientId: z.string(), registrationTokenHash: z.string() }),
);

/**
 * A shared public client registered again (agents do so on every connection of every install): one more
 * registration token. On a subject of its own, so that only the services that keep registration tokens (and
 * the audit trail) receive it; it changes nothing the client's subject protects.
 */
export const SharedClientReregistered = defineEvent(
  'SharedClientReregistered',
  1,
  z.object({ clientId: z.string(), registrationTokenHash: z.string() }),
);

export const ClientUpdated = defineEvent(
  'ClientUpdated',
  1,
  z.object({ clientId: z.string(), metadata: ClientMetadataSchema, fingerprint: z.string().nullable() }),
);

export const ClientDeleted = defineEvent('ClientDeleted', 1, z.object({ clientId: z.string() }));

/** The client had no live grant and was not used for the configured idle period; it is gone as if deleted. */
export const ClientExpired = defineEvent(
  'ClientExpired',
  1,
  z.object({ clientId: z.string(), lastUsedAt: z.iso.datetime(), idleDays: z.number().positive() }),
);

export type ClientRegistered = EventOf<typeof ClientRegistered>;
export type ClientReregistered = EventOf<typeof ClientReregistered>;
export type SharedClientReregistered = EventOf<typeof SharedClientReregistered>;
export type ClientUpdated = EventOf<typeof ClientUpdated>;
export type ClientDeleted = EventOf<typeof ClientDeleted>;
export type ClientExpired = EventOf<typeof ClientExpired>;
export type ClientEvent = ClientRegistered | ClientReregistered | SharedClientReregistered | ClientUpdated | ClientDeleted | ClientExpired;
