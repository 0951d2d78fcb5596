import type { ToolDefinition } from '../tool.ts';

/** Returns its input: the smallest tool, used by health checks and the benchmarks. */
export const echo: ToolDefinition = {
  name: 'echo',
  description: 'Returns the message it is given.',
  inputSchema: { type: 'object', properties: { message: { type: 'string', maxLength: 10_000 } }, required: ['message'], additionalProperties: false },
  requiredScopes: [],
  handler: (args) => ({ content: [{ type: 'text', text: String(args.message) }] }),
};
