import type { RequestOrigin } from '@mcp-auth/http';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ToolDefinition, ToolIdentity } from '../tools/tool.ts';

export type ScopeRefusal = {
  /** What the token lacks for this tool. */
  missing: string[];
  /** What to ask for: the scopes held and those missing (RFC 6750 §3.1, the step-up challenge's scope). */
  needed: string[];
  description: string;
};

/**
 * The one scope check of a tool call, whatever the transport: over HTTP the route answers a refusal with
 * 403 insufficient_scope before the MCP SDK, over stdio the server answers it as a tool error. A refusal is
 * audited (ToolDenied) here, so each transport records it alike.
 */
export function checkToolScopes(tool: ToolDefinition, identity: ToolIdentity, audit: AuditLog, origin: RequestOrigin): ScopeRefusal | null {
  const missing = tool.requiredScopes.filter((s) => !identity.scopes.includes(s));
  if (missing.length === 0) return null;
  audit.denied(tool.name, identity, 'insufficient_scope', tool.requiredScopes, origin);
  return {
    missing,
    needed: [...new Set([...identity.scopes, ...tool.requiredScopes])],
    description: `The ${tool.name} tool needs the scope ${missing.join(' ')}, which this connection was not granted.`,
  };
}
