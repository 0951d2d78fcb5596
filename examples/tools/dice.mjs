// An operator's own tool, loaded without touching the service:
//   TOOL_MODULES=examples/tools/dice.mjs npm start
// (a tool needing a scope of its own, e.g. games:play, also needs it in SCOPES, which replaces the built-in list:
//   SCOPES="profile=…,notes:read=…,notes:write=…,games:play=Play games")
//
// A module default-exports one tool definition (or an array of them):
//   name            1-64 of letters, digits, _ and -
//   description     what the agent reads to decide when to call it
//   inputSchema     JSON Schema of the arguments (type "object"); validated before the handler runs
//   requiredScopes  scopes the access token must carry; otherwise 403 insufficient_scope and the agent steps up
//   handler(args, { identity, signal })
//                   identity = { userId, username, clientId, clientName, scopes, grantId, expiresAt }
//                   return a string, a JSON-able object, or an MCP result { content: [...], isError? };
//                   throw to report an error the agent can read.
import { randomInt } from 'node:crypto';

export default {
  name: 'roll_dice',
  title: 'Roll dice',
  description: 'Rolls N dice with S sides for the signed-in user.',
  inputSchema: {
    type: 'object',
    properties: {
      count: { type: 'integer', minimum: 1, maximum: 20, default: 1 },
      sides: { type: 'integer', minimum: 2, maximum: 1000, default: 6 },
    },
    additionalProperties: false,
  },
  requiredScopes: ['profile'],
  handler({ count = 1, sides = 6 }, { identity }) {
    const rolls = Array.from({ length: count }, () => randomInt(1, sides + 1));
    return { player: identity.username ?? identity.userId, rolls, total: rolls.reduce((a, b) => a + b, 0) };
  },
};
