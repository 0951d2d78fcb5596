import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exchangeAuthorization, startAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { SetupProblem, describe, timedFetch, type AuthorizationServer } from './authorization-server.ts';
import type { StoredClient } from './credential-store.ts';
import { openInBrowser } from './open-browser.ts';

/** RFC 8252 §7.3: registered without a port; the authorization server lets each request name the port it listens on. */
const REGISTERED_REDIRECT_URI = 'http://127.0.0.1/callback';
const CALLBACK_PATH = '/callback';

export type SignInOptions = {
  server: AuthorizationServer;
  resource: string;
  /** The client registered before for this issuer, if any: reused while its registration exists. */
  client: StoredClient | null;
  clientName: string;
  scope: string | undefined;
  openBrowser: boolean;
  /** Tells the user where to sign in (and whether the browser was asked to open it). */
  showUrl(url: string, opened: boolean): void;
  /** Keeps the outcome (stores the credential) before the browser is told that it worked. */
  accept(tokens: OAuthTokens, client: StoredClient): Promise<void>;
};

/** The user answered Deny, or the authorization server refused the request: the flow is over. */
export class SignInRefused extends Error {}

/**
 * The authorization-code flow of a native app (RFC 8252) as a public client: the registration reused or made
 * (RFC 7591), PKCE S256 and `resource` = the MCP URL, the URL printed and opened in the browser, the code
 * received on a loopback listener and exchanged. Resolves once `accept` has kept the tokens.
 */
export async function signInThroughBrowser(options: SignInOptions): Promise<void> {
  const { server, resource } = options;
  const client = (await reusableClient(options)) ?? (await register(options));
  const state = randomBytes(16).toString('base64url');
  const listener = createServer();
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => resolve());
  });
  const redirectUri = `http://127.0.0.1:${(listener.address() as AddressInfo).port}${CALLBACK_PATH}`;
  const { authorizationUrl, codeVerifier } = await startAuthorization(server.issuer, {
    metadata: server.metadata,
    clientInformation: { client_id: client.clientId },
    redirectUrl: redirectUri,
    state,
    resource,
    ...(options.scope ? { scope: options.scope } : {}),
  });

  const finished = new Promise<void>((resolve, reject) => {
    let answering = false;
    listener.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', redirectUri);
      if (url.pathname !== CALLBACK_PATH || req.method !== 'GET') return page(res, 404, 'Not found', 'Nothing here.');
      const query = url.searchParams;
      // The callback must answer this very request (RFC 6749 §10.12) and come from this issuer (RFC 9207).
      if (query.get('state') !== state) return page(res, 400, 'Unexpected sign-in', 'This answer does not belong to the sign-in that mcp-tools is waiting for.');
      const iss = query.get('iss');
      const issPromised = (server.metadata as { authorization_response_iss_parameter_supported?: boolean }).authorization_response_iss_parameter_supported === true;
      if ((iss !== null || issPromised) && iss?.replace(/\/+$/, '') !== server.issuer) {
        return page(res, 400, 'Unexpected sign-in', 'This answer comes from another authorization server.');
      }
      if (answering) return page(res, 409, 'Already answered', 'This sign-in was already answered.');
      answering = true;
      const error = query.get('error');
      if (error) {
        page(res, 200, 'Not connected', `Access was not granted (${error}). You can close this window.`);
        return reject(new SignInRefused(`access was not granted: ${error}${query.get('error_description') ? ` (${query.get('error_description')})` : ''}`));
      }
      const code = query.get('code') ?? '';
      exchangeAuthorization(server.issuer, { metadata: server.metadata, clientInformation: { client_id: client.clientId }, authorizationCode: code, codeVerifier, redirectUri, resource, fetchFn: timedFetch })
        .then(async (tokens) => {
          await options.accept(tokens, client);
          page(res, 200, 'Connected', 'mcp-tools is connected. You can close this window and go back to your agent.');
          resolve();
        })
        .catch((err: unknown) => {
          page(res, 500, 'Not connected', 'The code could not be exchanged for tokens; see the agent\'s log.');
          reject(new SignInRefused(`the code could not be exchanged: ${describe(err)}`));
        });
    });
  });

  options.showUrl(authorizationUrl.href, options.openBrowser && openInBrowser(authorizationUrl.href));
  try {
    await finished;
  } finally {
    listener.close();
    listener.closeIdleConnections();
  }
}

/** A stored registration for this issuer, if RFC 7592 says it still exists (or cannot be asked). */
async function reusableClient({ client, server }: SignInOptions): Promise<StoredClient | null> {
  if (!client || client.issuer !== server.issuer) return null;
  if (!client.registrationClientUri || !client.registrationAccessToken) return client;
  try {
    const read = await timedFetch(client.registrationClientUri, { headers: { Authorization: `Bearer ${client.registrationAccessToken}` } });
    await read.body?.cancel();
    return read.status === 401 || read.status === 404 ? null : client;
  } catch {
    return client;
  }
}

/** RFC 7591 registration as a public native client, keeping the RFC 7592 credential to ask about it later. */
async function register({ server, clientName, scope }: SignInOptions): Promise<StoredClient> {
  const endpoint = server.metadata.registration_endpoint;
  if (!endpoint) throw new SetupProblem(`${server.issuer} offers no dynamic client registration`);
  let answer: Response;
  try {
    answer = await timedFetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({
        client_name: clientName,
        redirect_uris: [REGISTERED_REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        ...(scope ? { scope } : {}),
      }),
    });
  } catch (err) {
    throw new SetupProblem(`could not register with ${endpoint}: ${describe(err)}`);
  }
  const body = (await answer.json().catch(() => null)) as Record<string, unknown> | null;
  if (!answer.ok || typeof body?.client_id !== 'string') {
    throw new SetupProblem(`${endpoint} refused the registration: ${answer.status} ${String(body?.error_description ?? body?.error ?? '')}`);
  }
  return {
    issuer: server.issuer,
    clientId: body.client_id,
    registrationAccessToken: typeof body.registration_access_token === 'string' ? body.registration_access_token : null,
    registrationClientUri: typeof body.registration_client_uri === 'string' ? body.registration_client_uri : null,
  };
}

function page(res: ServerResponse, status: number, title: string, text: string): void {
  const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Security-Policy': "default-src 'none'" });
  res.end(`<!doctype html><meta charset="utf-8"><title>${escape(title)}</title><h1>${escape(title)}</h1><p>${escape(text)}</p>`);
}
