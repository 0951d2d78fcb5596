import type { ToolDefinition } from '../tool.ts';

export const whoami: ToolDefinition = {
  name: 'whoami',
  title: 'Who am I',
  description: 'Tells who this connection acts for: the user, the client application, the granted scopes and when the access token expires.',
  inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  requiredScopes: ['profile'],
  handler(_args, { identity }) {
    return {
      user: identity.username ?? identity.userId,
      userId: identity.userId,
      client: identity.clientName ?? identity.clientId,
      clientId: identity.clientId,
      scopes: identity.scopes,
      expiresAt: new Date(identity.expiresAt * 1000).toISOString(),
    };
  },
};
