/** RFC 6750 §3 / RFC 9728 §5.1 WWW-Authenticate values for the MCP endpoint. */

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '').replace(/[\r\n]/g, ' ')}"`;
}

export function bearerChallenge(params: { resourceMetadata: string; scope: readonly string[]; error?: string; description?: string }): string {
  const parts = [];
  if (params.error) parts.push(`error=${quoted(params.error)}`);
  if (params.description) parts.push(`error_description=${quoted(params.description)}`);
  parts.push(`resource_metadata=${quoted(params.resourceMetadata)}`);
  if (params.scope.length > 0) parts.push(`scope=${quoted(params.scope.join(' '))}`);
  return `Bearer ${parts.join(', ')}`;
}
