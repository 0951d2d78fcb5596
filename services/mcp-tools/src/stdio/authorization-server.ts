import { discoverAuthorizationServerMetadata, discoverOAuthProtectedResourceMetadata, extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import type { AuthorizationServerMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';

/** The authorization server `mcp-tools --stdio` is a public client of: its issuer and RFC 8414 metadata. */
export type AuthorizationServer = { issuer: string; metadata: AuthorizationServerMetadata };

/** Something the user must fix (a URL, a stopped stack): said in one sentence, without a stack trace. */
export class SetupProblem extends Error {}

const HTTP_TIMEOUT_MS = 10_000;

/** RFC 8414 metadata of `issuer`, whose `issuer` must be that very URL (§3.3). */
export async function authorizationServerOf(issuer: string): Promise<AuthorizationServer> {
  let metadata: AuthorizationServerMetadata | undefined;
  try {
    metadata = await discoverAuthorizationServerMetadata(issuer, { fetchFn: timedFetch });
  } catch (err) {
    throw new SetupProblem(`could not read the authorization server metadata of ${issuer}: ${describe(err)}`);
  }
  if (!metadata) throw new SetupProblem(`${issuer} publishes no authorization server metadata (is the stack running, and ISSUER right?)`);
  if (metadata.issuer.replace(/\/+$/, '') !== issuer) throw new SetupProblem(`the metadata at ${issuer} names another issuer (${metadata.issuer})`);
  return { issuer, metadata };
}

/**
 * Finds the authorization server as any MCP client does: a request to the MCP URL without a token is answered
 * 401 with the protected-resource metadata's URL (RFC 9728 §5.1), which names the authorization server. It
 * must be the issuer whose tokens this process verifies, or the tokens it gets would be refused.
 */
export async function discoverFromResource(resource: string, expectedIssuer: string): Promise<AuthorizationServer> {
  let challenge: Response;
  try {
    challenge = await timedFetch(resource, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'ping' }),
    });
    await challenge.body?.cancel();
  } catch (err) {
    throw new SetupProblem(`could not reach the MCP URL ${resource} to find its authorization server (is the stack running?): ${describe(err)}`);
  }
  if (challenge.status !== 401) throw new SetupProblem(`the MCP URL ${resource} answered ${challenge.status} without a token, not 401: is it an MCP server of this deployment?`);
  const { resourceMetadataUrl } = extractWWWAuthenticateParams(challenge);
  let resourceMetadata;
  try {
    resourceMetadata = await discoverOAuthProtectedResourceMetadata(resource, resourceMetadataUrl ? { resourceMetadataUrl } : {}, timedFetch);
  } catch (err) {
    throw new SetupProblem(`could not read the protected-resource metadata of ${resource}: ${describe(err)}`);
  }
  if (resourceMetadata.resource !== resource) throw new SetupProblem(`the protected-resource metadata of ${resource} is about another resource (${resourceMetadata.resource})`);
  const servers = (resourceMetadata.authorization_servers ?? []).map((s) => s.replace(/\/+$/, ''));
  if (!servers.includes(expectedIssuer)) {
    throw new SetupProblem(`${resource} names the authorization server ${servers.join(', ') || '(none)'}, but this process verifies tokens of ${expectedIssuer} (ISSUER)`);
  }
  return authorizationServerOf(expectedIssuer);
}

export function timedFetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(HTTP_TIMEOUT_MS) });
}

/** fetch says "fetch failed"; the reason (refused, reset, timeout) is in its cause. */
export function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return [(err as Error).message ?? String(err), cause?.message ?? cause?.code].filter(Boolean).join(': ');
}
