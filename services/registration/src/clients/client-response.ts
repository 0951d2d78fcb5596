import type { RegisteredClient } from '@mcp-auth/read-models';

/** RFC 7591 §3.2.1 / RFC 7592 §3 client information response. Secrets appear only when just issued. */
export function clientInformation(
  client: Pick<RegisteredClient, 'clientId' | 'clientIdIssuedAt' | 'metadata'>,
  registrationClientUri: string,
  issued: { clientSecret?: string | null; registrationAccessToken?: string; confidential: boolean },
): Record<string, unknown> {
  return {
    client_id: client.clientId,
    client_id_issued_at: client.clientIdIssuedAt,
    ...(issued.clientSecret ? { client_secret: issued.clientSecret } : {}),
    ...(issued.confidential ? { client_secret_expires_at: 0 } : {}),
    ...client.metadata,
    ...(issued.registrationAccessToken ? { registration_access_token: issued.registrationAccessToken } : {}),
    registration_client_uri: registrationClientUri,
  };
}
