import { hostname } from 'node:os';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Logger } from '@mcp-auth/http';
import type { McpToolsConfig } from '../config.ts';
import { createLegacyMcpServer } from '../mcp/server.ts';
import type { startRuntime } from '../runtime.ts';
import { SetupProblem, authorizationServerOf, discoverFromResource, type AuthorizationServer } from './authorization-server.ts';
import { SignInRefused, signInThroughBrowser } from './browser-sign-in.ts';
import { CredentialStore, seedFingerprint, type StoredCredential } from './credential-store.ts';
import { GrantKeeper } from './grant-keeper.ts';
import { defaultCredentialsDir, type StdioSettings } from './settings.ts';

type Runtime = Awaited<ReturnType<typeof startRuntime>>;

/** Lines for the person who runs the agent: plain text on stderr, since stdout is the MCP channel. */
export function say(line: string): void {
  process.stderr.write(`mcp-tools: ${line}\n`);
}

/**
 * `mcp-tools --stdio`: the same tools for a local agent, acting for the user who allowed it. It resumes the
 * stored credential, or starts from STDIO_REFRESH_TOKEN, or signs the user in through the browser; then it
 * serves MCP on stdin/stdout until the agent closes it (exit 0) or the grant ends (exit 1, said on stderr).
 * Returns the exit code; the caller closes the runtime.
 */
export async function runStdio(config: McpToolsConfig, settings: StdioSettings, runtime: Runtime, logger: Logger): Promise<number> {
  let keeper: GrantKeeper;
  try {
    keeper = await authorize(config, settings, runtime, logger);
  } catch (err) {
    if (!(err instanceof SetupProblem)) throw err;
    say(`${err.message}.`);
    return 1;
  }
  keeper.watch();

  const mcp = createLegacyMcpServer(runtime.registry, { ...runtime.policy, identify: () => keeper.identify() });
  const transport = new StdioServerTransport();
  const closed = new Promise<null>((resolve) => {
    transport.onclose = () => resolve(null);
    process.stdin.once('end', () => resolve(null));
    // What supervisors and agents send to stop it: a refresh under way still stores its token (keeper.stop).
    process.once('SIGTERM', () => resolve(null));
    process.once('SIGINT', () => resolve(null));
  });
  await mcp.connect(transport);
  logger.info({ resource: config.MCP_RESOURCE_URL }, 'serving MCP over stdio');

  const ended = await Promise.race([closed, keeper.ended]);
  await keeper.stop();
  if (ended === null) return 0;
  const who = keeper.lastIdentity;
  const whose = who ? `the access of ${who.clientName ?? who.clientId} for ${who.username ?? who.userId} ended: ` : '';
  say(`stopping: ${whose}${ended}. Start mcp-tools --stdio again to sign in again.`);
  await mcp.close().catch(() => {});
  return 1;
}

/**
 * A GrantKeeper holding an access token, or waiting for the browser sign-in it started. Tools are served
 * meanwhile: a call before the user allowed access is told where to allow it.
 */
async function authorize(config: McpToolsConfig, settings: StdioSettings, runtime: Runtime, logger: Logger): Promise<GrantKeeper> {
  const resource = config.MCP_RESOURCE_URL;
  const store = CredentialStore.open(settings.STDIO_CREDENTIALS_DIR ?? defaultCredentialsDir(), resource);
  const { lastSequence } = await runtime.store.streamState();
  await runtime.projector.waitFor(lastSequence, 60_000);

  const seeded = settings.STDIO_REFRESH_TOKEN ? await seed(store, config, settings) : null;
  const stored = seeded ?? store.read();
  const resumable = stored.grant !== null && stored.client?.issuer === config.ISSUER;
  const server: AuthorizationServer = resumable ? await authorizationServerOf(config.ISSUER) : await discoverFromResource(resource, config.ISSUER);
  const keeper = new GrantKeeper({ store, server, resource, verifier: runtime.verifier, logger });
  const connected = async () => {
    const identity = await keeper.identify();
    if (typeof identity === 'string') say(`the access token is refused here: ${identity}`);
    else say(`connected as ${identity.username ?? identity.userId} (scopes: ${identity.scopes.join(' ')}); the credential is kept in ${store.file}`);
  };

  if (resumable) {
    const outcome = await keeper.resume();
    if (outcome.kind === 'refreshed') await connected();
    if (outcome.kind !== 'ended') return keeper;
    if (seeded) throw new SetupProblem(`STDIO_REFRESH_TOKEN was refused: ${outcome.why}`);
    say(`the stored credential was refused: ${outcome.why}. Sign in again.`);
  }
  void signInThroughBrowser({
    server,
    resource,
    client: store.read().client,
    clientName: `${config.RESOURCE_NAME} (stdio, ${hostname()})`,
    scope: settings.STDIO_SCOPE ?? scopeToAskFor(runtime, server),
    openBrowser: settings.STDIO_OPEN_BROWSER,
    showUrl(url, opened) {
      say(`to let it act for you at ${resource}, sign in and allow access at:`);
      process.stderr.write(`  ${url}\n`);
      if (opened) say('(opened in your browser)');
      keeper.notConnectedBecause(`Not connected yet: the user has to allow access at ${url}`);
    },
    accept: (tokens, client) => keeper.adoptSignIn(tokens, client),
  }).then(connected, (err: unknown) => keeper.end(err instanceof SignInRefused || err instanceof SetupProblem ? err.message : `the sign-in failed: ${String(err)}`));
  return keeper;
}

/**
 * STDIO_REFRESH_TOKEN becomes the stored credential once: after its first rotation it is spent, and presenting
 * it again would revoke the grant, so a restart with the same variable resumes the stored, newer one.
 */
async function seed(store: CredentialStore, config: McpToolsConfig, settings: StdioSettings): Promise<StoredCredential> {
  const fingerprint = seedFingerprint(settings.STDIO_REFRESH_TOKEN!);
  // Under the lock: another process started with the same variable may be seeding or rotating it right now.
  return store.locked(async () => {
    const stored = store.read();
    if (stored.grant?.seed === fingerprint && stored.client?.clientId === settings.STDIO_CLIENT_ID && stored.client?.issuer === config.ISSUER) return stored;
    const seeded: StoredCredential = {
      resource: config.MCP_RESOURCE_URL,
      client: { issuer: config.ISSUER, clientId: settings.STDIO_CLIENT_ID!, registrationAccessToken: null, registrationClientUri: null },
      grant: { refreshToken: settings.STDIO_REFRESH_TOKEN!, seed: fingerprint, savedAt: new Date().toISOString() },
    };
    store.write(seeded);
    return seeded;
  });
}

/** The scopes the served tools need, among those the authorization server offers (all of them if it does not say). */
function scopeToAskFor(runtime: Runtime, server: AuthorizationServer): string | undefined {
  const offered = server.metadata.scopes_supported;
  const needed = [...new Set(runtime.registry.all().flatMap((tool) => tool.requiredScopes))].filter((s) => !offered || offered.includes(s));
  return needed.length > 0 ? needed.join(' ') : undefined;
}
