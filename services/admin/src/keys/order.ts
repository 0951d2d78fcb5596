import type { PublishedKey } from '@mcp-auth/read-models';

/** The key signing now (or last) first: the order the API and the console list keys in. */
export function newestFirst(keys: PublishedKey[]): PublishedKey[] {
  return [...keys].sort((a, b) => b.signsUntil - a.signsUntil);
}
