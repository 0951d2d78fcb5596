import { EventStoreUnavailable } from '@mcp-auth/event-store';
import { InvalidGrant, hashSecret, splitPosition } from '@mcp-auth/oauth';
import { DEFAULT_CATCH_UP_MS, reachCredentialPosition } from '@mcp-auth/event-sourcing';
import type { TokenDeps } from '../deps.ts';

/**
 * Reads a code or refresh token ("<secret>.<position>") and waits until this replica's projection has
 * applied the event that created it, so a credential minted a moment ago on another replica is never
 * refused as unknown. Returns the hash of the secret (null for garbage); a position the stream never
 * reached is not ours (null, at once), a projection too far behind is a 503.
 */
export async function resolveCredential(value: string | undefined, deps: Pick<TokenDeps, 'projector' | 'store'>, timeoutMs = DEFAULT_CATCH_UP_MS): Promise<string | null> {
  const parsed = value ? splitPosition(value) : null;
  if (!parsed) return null;
  const reached = await reachCredentialPosition(deps.store, deps.projector, parsed.position, timeoutMs);
  if (reached === 'made-up') return null;
  if (reached === 'behind') throw new EventStoreUnavailable('the projection is behind the credential');
  return hashSecret(parsed.secret);
}

export async function resolveGrantCredential(value: string | undefined, deps: Pick<TokenDeps, 'projector' | 'store'>): Promise<string> {
  const hash = await resolveCredential(value, deps);
  if (!hash) throw new InvalidGrant('The grant is invalid.');
  return hash;
}
