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
