import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { BrowserlessUser } from './oauth-flow.ts';

/**
 * The MCP SDK's own OAuth client provider, as an agent implements it, except that "opening the browser"
 * means a BrowserlessUser walking our sign-in and consent forms. Everything else (discovery, DCR, PKCE,
 * token exchange, refresh) is the SDK's code.
 */
export class TestOAuthProvider implements OAuthClientProvider {
  clientInfo: OAuthClientInformationMixed | undefined;
  savedTokens: OAuthTokens | undefined;
  #verifier = '';
  /** The redirect's query once the user answered; consumed by McpTestClient.connect. */
  lastRedirect: URLSearchParams | null = null;
  authorizationUrls: URL[] = [];
  /** The scopes the user unticks on the consent page, at every authorization from now on. */
  untick: string[];

  constructor(
    private readonly user: BrowserlessUser,
    private readonly options: { redirectUrl?: string; clientName?: string; scope?: string; decision?: 'allow' | 'deny'; untick?: string[] } = {},
  ) {
    this.untick = options.untick ?? [];
  }

  get redirectUrl(): string {
    return this.options.redirectUrl ?? 'http://127.0.0.1:33418/callback';
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.options.clientName ?? 'MCP SDK test agent',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(this.options.scope ? { scope: this.options.scope } : {}),
    };
  }

  clientInformation() {
    return this.clientInfo;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.clientInfo = info;
  }
  tokens() {
    return this.savedTokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.savedTokens = tokens;
  }
  saveCodeVerifier(verifier: string) {
    this.#verifier = verifier;
  }
  codeVerifier() {
    return this.#verifier;
  }
  async redirectToAuthorization(url: URL) {
    this.authorizationUrls.push(url);
    this.lastRedirect = await this.user.authorize(url.href, { decision: this.options.decision ?? 'allow', untick: this.untick });
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier') {
    if (scope === 'all' || scope === 'tokens') this.savedTokens = undefined;
    if (scope === 'all' || scope === 'client') this.clientInfo = undefined;
  }
}

/**
 * Connects the SDK client to an MCP URL, completing the OAuth flow when the server asks for it
 * (401 → discovery → registration → authorize → token), then reconnecting, as an agent does.
 */
export async function connectMcpClient(
  mcpUrl: string,
  provider: TestOAuthProvider,
  { requestInit, fetch }: { requestInit?: RequestInit; fetch?: typeof globalThis.fetch } = {},
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, ...(requestInit ? { requestInit } : {}), ...(fetch ? { fetch } : {}) });
    const client = new Client({ name: 'mcp-auth-test-agent', version: '1.0.0' });
    try {
      await client.connect(transport);
      return { client, transport };
    } catch (err) {
      if (!(err instanceof UnauthorizedError) || !provider.lastRedirect) throw err;
      const code = provider.lastRedirect.get('code');
      provider.lastRedirect = null;
      if (!code) throw err;
      await transport.finishAuth(code);
    }
  }
  throw new Error('could not connect after authorizing');
}
