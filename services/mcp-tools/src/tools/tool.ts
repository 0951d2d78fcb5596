/**
 * The tool interface, for built-in tools and for operators' own (loaded with TOOL_MODULES). A module's
 * default export is one ToolDefinition or an array of them; see examples/tools/dice.mjs.
 */

/** Who the verified access token speaks for. Tools never see the token itself. */
export type ToolIdentity = {
  userId: string;
  username: string | null;
  clientId: string;
  clientName: string | null;
  scopes: string[];
  grantId: string;
  /** Expiry of the access token, unix seconds. */
  expiresAt: number;
};

export type ToolContent = { type: 'text'; text: string };

/** What a handler may return: plain text, a JSON-able value (sent as text and structuredContent), or a full MCP result. */
export type ToolResult = string | { content: ToolContent[]; isError?: boolean; structuredContent?: Record<string, unknown> } | Record<string, unknown>;

export type ToolContext = {
  identity: ToolIdentity;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
};

export type ToolDefinition = {
  /** 1–64 of letters, digits, _ and -. */
  name: string;
  title?: string;
  description: string;
  /** JSON Schema of the arguments (type "object"); arguments are validated against it before the handler runs. */
  inputSchema: { type: 'object'; properties?: Record<string, unknown>; required?: string[]; [key: string]: unknown };
  /** Scopes the access token must carry; without them the call is refused with 403 insufficient_scope (step-up). */
  requiredScopes: string[];
  handler(args: Record<string, unknown>, context: ToolContext): ToolResult | Promise<ToolResult>;
};

/** Thrown by a handler for an error the agent should read (a tool error result, not a protocol error). */
export class ToolError extends Error {}
