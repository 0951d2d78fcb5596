import { startNats, type NatsHandle } from './nats.ts';
import { freePort } from './ports.ts';
import { startService, type ServiceName, type ServiceProcess } from './service-process.ts';
import type { DeploymentUrls } from './oauth-flow.ts';

export type TestStack = {
  nats: NatsHandle;
  urls: DeploymentUrls & { mcp: string };
  registration: ServiceProcess;
  authorization: ServiceProcess;
  token: ServiceProcess[];
  mcp: ServiceProcess[];
  /** The environment every service of this stack shares (NATS and public URLs). */
  env: Record<string, string>;
  /** Starts one more replica of a service on this stack. */
  addReplica(name: ServiceName, env?: Record<string, string>, port?: number): Promise<ServiceProcess>;
  stop(): Promise<void>;
};

export type StackOptions = {
  tokenReplicas?: number;
  /** 0 for an OAuth-only stack; the resource URL is then still the (unused) MCP port. */
  mcpReplicas?: number;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Extra environment per service. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
};

/**
 * The four services on one real NATS, as separate processes on free ports, with their public URLs set to
 * where they really listen (the first MCP replica's URL is the resource). Rate limits are off: tests make
 * many requests from one address.
 */
export async function startStack(options: StackOptions = {}): Promise<TestStack> {
  const nats = await startNats();
  const [registrationPort, authorizationPort, tokenPort, mcpPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const urls = {
    registration: `http://127.0.0.1:${registrationPort}`,
    issuer: `http://127.0.0.1:${authorizationPort}`,
    token: `http://127.0.0.1:${tokenPort}`,
    resource: `http://127.0.0.1:${mcpPort}/mcp`,
    mcp: `http://127.0.0.1:${mcpPort}/mcp`,
  };
  const env: Record<string, string> = {
    NATS_URL: nats.url,
    ISSUER: urls.issuer,
    REGISTRATION_BASE_URL: urls.registration,
    TOKEN_BASE_URL: urls.token,
    MCP_RESOURCE_URL: urls.resource,
    REGISTRATION_RATE_LIMIT: '0',
    SIGNIN_RATE_LIMIT: '0',
    SEED_USERS: 'alice:password123,bob:password456',
    ...options.env,
  };
  const started: ServiceProcess[] = [];
  const start = async (name: ServiceName, port?: number, extra: Record<string, string> = {}) => {
    const service = await startService(name, { env: { ...env, ...options.serviceEnv?.[name], ...extra }, ...(port ? { port } : {}) });
    started.push(service);
    return service;
  };
  try {
    const [registration, authorization] = await Promise.all([start('registration', registrationPort), start('authorization', authorizationPort)]);
    const token = [await start('token', tokenPort)];
    for (let i = 1; i < (options.tokenReplicas ?? 1); i++) token.push(await start('token'));
    const mcp: ServiceProcess[] = [];
    for (let i = 0; i < (options.mcpReplicas ?? 1); i++) mcp.push(await start('mcp-tools', i === 0 ? mcpPort : undefined));
    return {
      nats,
      urls,
      registration,
      authorization,
      token,
      mcp,
      env,
      addReplica: (name, extra, port) => start(name, port, extra),
      async stop() {
        await Promise.all(started.map((s) => s.stop()));
        await nats.stop();
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.stop('SIGKILL')));
    await nats.stop();
    throw err;
  }
}
