/** RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,100}$/;

export type ScopeDefinition = { name: string; description: string };

/** The scopes this platform's built-in tools use. SCOPES replaces the list (name them again to keep them). */
export const BUILT_IN_SCOPES: ScopeDefinition[] = [
  { name: 'profile', description: 'Know who you are: your username and this connection' },
  { name: 'notes:read', description: 'Read your notes' },
  { name: 'notes:write', description: 'Create and delete your notes' },
];

/** The minimal set a client gets when it asks for nothing (and what the resource advertises). */
export const BUILT_IN_DEFAULT_SCOPES = ['profile', 'notes:read'];

/**
 * OpenID Connect Core §11: asks for a refresh token that works while the user is away. Refresh tokens are issued
 * with or without it; a client that asks sees its request granted, and the consent page says what it means.
 */
export const OFFLINE_ACCESS = 'offline_access';

/**
 * Scopes the authorization server grants that no tool checks: always in its catalogue, never in a protected
 * resource's metadata nor in a WWW-Authenticate challenge (MCP 2026-07-28, "Refresh Tokens").
 */
export const NON_TOOL_SCOPES: readonly ScopeDefinition[] = [{ name: OFFLINE_ACCESS, description: 'Stay connected while you are away' }];

export function isToolScope(scope: string): boolean {
  return !NON_TOOL_SCOPES.some((s) => s.name === scope);
}

/** The authorization server's catalogue: the deployment's scopes plus the non-tool ones it did not name itself. */
export function withNonToolScopes(scopes: readonly ScopeDefinition[]): ScopeDefinition[] {
  return [...scopes, ...NON_TOOL_SCOPES.filter((n) => !scopes.some((s) => s.name === n.name))];
}

/** Parses a space-delimited scope string; null if any token is malformed. Duplicates collapse. */
export function parseScope(value: string | undefined): string[] | null {
  if (value === undefined) return [];
  const trimmed = value.trim();
  if (trimmed === '') return [];
  const tokens = trimmed.split(/ +/);
  if (!tokens.every((t) => SCOPE_TOKEN.test(t))) return null;
  return [...new Set(tokens)];
}

export function formatScope(scopes: readonly string[]): string {
  return scopes.join(' ');
}

/**
 * Reads a scope catalogue from configuration: "name=description,name=description".
 * Without configuration, the built-in scopes.
 */
export function parseScopeCatalogue(value: string | undefined): ScopeDefinition[] {
  if (!value || value.trim() === '') return BUILT_IN_SCOPES;
  const scopes: ScopeDefinition[] = [];
  for (const entry of value.split(',')) {
    const [name, ...rest] = entry.split('=');
    const trimmed = name?.trim() ?? '';
    if (!SCOPE_TOKEN.test(trimmed)) throw new Error(`"${trimmed}" is not a valid scope name`);
    scopes.push({ name: trimmed, description: rest.join('=').trim() || trimmed });
  }
  return scopes;
}
