import { natsEnvOf, startNats, type NatsHandle } from './nats.ts';
import { freePort } from './ports.ts';
import { startService, startedTogether, type ServiceName, type ServiceProcess } from './service-process.ts';
import type { DeploymentUrls } from './oauth-flow.ts';

export type TestStack = {
  nats: NatsHandle;
  urls: DeploymentUrls & { mcp: string; admin: string };
  registration: ServiceProcess;
  authorization: ServiceProcess;
  /** Token replicas in start order (then those of `extraTokens`); `urls.token` is the first one's. */
  tokens: ServiceProcess[];
  /** MCP replicas; `urls.mcp` (the resource) is the first one's. */
  mcp: ServiceProcess[];
  /** Authorization services of `extraAuthorizations`, each its own issuer URL on the same stream. */
  extraAuthorizations: ServiceProcess[];
  /** The admin service (audit, webhooks, console), when `admin` was asked for; its API takes `Bearer ${TEST_ADMIN_TOKEN}`. */
  admin: ServiceProcess | null;
  /** The environment every service of this stack shares (NATS and public URLs; each service's credential is its own: natsEnvOf). */
  env: Record<string, string>;
  /** Starts one more replica of a service on this stack. */
  addReplica(name: ServiceName, env?: Record<string, string>, port?: number): Promise<ServiceProcess>;
  /** One more authorization service with its own ISSUER (its own URL), so that its forms and `iss` line up. */
  startAuthorization(env?: Record<string, string>): Promise<ServiceProcess>;
  /**
   * Kills a service of this stack (SIGKILL, a crash), waits, and starts it again on the same port, data folder
   * and environment; the stack's fields then name the new process, which is returned once ready.
   */
  crash(service: ServiceProcess, options?: { downtimeMs?: number }): Promise<ServiceProcess>;
  /** Stops every service (each within its stop deadline), then NATS; fails naming a service that had to be killed. */
  stop(options?: { deadlineMs?: number }): Promise<void>;
};

export type StackOptions = {
  tokenReplicas?: number;
  /** 0 for an OAuth-only stack; the resource URL is then still the (unused) MCP port. */
  mcpReplicas?: number;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Extra environment per service. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** More token replicas, each with its own extra environment. */
  extraTokens?: Array<Record<string, string>>;
  /** More authorization services, each with its own extra environment (and its own issuer URL). */
  extraAuthorizations?: Array<Record<string, string>>;
  /** Start the admin service too (with this extra environment). */
  admin?: boolean | Record<string, string>;
  /**
   * NATS with authorization, each service with its own credential, as npm start runs it (the default); false for an
   * open NATS (NATS_URL, if set, is then used).
   */
  secured?: boolean;
  /**
   * A NATS the test started and stops itself (a cluster, say) instead of one of the stack's own; the services
   * take their credentials from it where it has them.
   */
  nats?: Pick<NatsHandle, 'url'> & Partial<Pick<NatsHandle, 'credentials' | 'tls'>>;
  /** How long each service may take to become ready (startService's default otherwise). */
  startTimeoutMs?: number;
};

/** The admin credential of test stacks (ADMIN_TOKEN). */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef0123456789';
/** The webhook secrets key of test stacks (WEBHOOK_SECRETS_KEY): 32 bytes in base64. */
export const TEST_WEBHOOK_SECRETS_KEY = Buffer.alloc(32, 7).toString('base64');

/**
 * A whole deployment for a test, as real processes from source on one real NATS, started in parallel:
 * registration, authorization (SEED_USERS alice and bob), token and MCP replicas. Every public URL is the
 * process's real one; the first MCP replica's URL is the resource. Rate limits are off: tests run many
 * flows from one address.
 */
export async function startStack(options: StackOptions = {}): Promise<TestStack> {
  const nats = options.nats ? givenNats(options.nats) : await startNats({ secured: options.secured ?? true });
  const [registrationPort, authorizationPort, tokenPort, mcpPort, adminPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const urls = {
    registration: `http://127.0.0.1:${registrationPort}`,
    issuer: `http://127.0.0.1:${authorizationPort}`,
    token: `http://127.0.0.1:${tokenPort}`,
    resource: `http://127.0.0.1:${mcpPort}/mcp`,
    mcp: `http://127.0.0.1:${mcpPort}/mcp`,
    admin: `http://127.0.0.1:${adminPort}`,
  };
  const env: Record<string, string> = {
    NATS_URL: nats.url,
    ISSUER: urls.issuer,
    REGISTRATION_BASE_URL: urls.registration,
    TOKEN_BASE_URL: urls.token,
    MCP_RESOURCE_URL: urls.resource,
    REGISTRATION_RATE_LIMIT: '0',
    REREGISTRATION_RATE_LIMIT: '0',
    REREGISTRATION_RATE_LIMIT_PER_ADDRESS: '0',
    REREGISTRATION_RATE_LIMIT_PER_CLIENT_AND_ADDRESS: '0',
    SIGNIN_RATE_LIMIT: '0',
    SEED_USERS: 'alice:password123,bob:password456',
    ADMIN_BASE_URL: urls.admin,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    WEBHOOK_SECRETS_KEY: TEST_WEBHOOK_SECRETS_KEY,
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  const started: ServiceProcess[] = [];
  const envOf = new Map<ServiceProcess, Record<string, string>>();
  const start = async (name: ServiceName, port?: number, extra: Record<string, string> = {}) => {
    // Each service its own credential, and nothing of another's (extra environment may still override it).
    const serviceEnv = { ...env, ...natsEnvOf(nats, name), ...options.serviceEnv?.[name], ...extra };
    const service = await startService(name, { env: serviceEnv, ...(port ? { port } : {}), ...(options.startTimeoutMs ? { timeoutMs: options.startTimeoutMs } : {}) });
    started.push(service);
    envOf.set(service, serviceEnv);
    return service;
  };
  const startAuthorization = async (extra: Record<string, string> = {}) => {
    const port = await freePort();
    return start('authorization', port, { ...extra, ISSUER: `http://127.0.0.1:${port}` });
  };
  try {
    // Nothing needs another service up, only NATS. Settled, so that nothing is left starting after a failure.
    const tokenReplicas = options.tokenReplicas ?? 1;
    const mcpReplicas = options.mcpReplicas ?? 1;
    const services: ServiceProcess[] = await startedTogether(
      start('registration', registrationPort),
      start('authorization', authorizationPort),
      ...Array.from({ length: tokenReplicas }, (_, i) => start('token', i === 0 ? tokenPort : undefined)),
      ...(options.extraTokens ?? []).map((extra) => start('token', undefined, extra)),
      ...Array.from({ length: mcpReplicas }, (_, i) => start('mcp-tools', i === 0 ? mcpPort : undefined)),
      ...(options.extraAuthorizations ?? []).map((extra) => startAuthorization(extra)),
      ...(options.admin ? [start('admin', adminPort, options.admin === true ? {} : options.admin)] : []),
    );
    const tokenCount = tokenReplicas + (options.extraTokens ?? []).length;
    const stack: TestStack = {
      nats,
      urls,
      registration: services[0]!,
      authorization: services[1]!,
      tokens: services.slice(2, 2 + tokenCount),
      mcp: services.slice(2 + tokenCount, 2 + tokenCount + mcpReplicas),
      extraAuthorizations: services.slice(2 + tokenCount + mcpReplicas, 2 + tokenCount + mcpReplicas + (options.extraAuthorizations ?? []).length),
      admin: options.admin ? services.at(-1)! : null,
      env,
      addReplica: (name, extra, port) => start(name, port, extra),
      startAuthorization,
      async crash(service, { downtimeMs = 0 } = {}) {
        await service.stop('SIGKILL');
        if (downtimeMs > 0) await new Promise((r) => setTimeout(r, downtimeMs));
        const again = await startService(service.name, {
          env: envOf.get(service) ?? env,
          port: service.port,
          dataDir: service.dataDir,
          ...(options.startTimeoutMs ? { timeoutMs: options.startTimeoutMs } : {}),
        });
        envOf.set(again, envOf.get(service) ?? env);
        const swap = <T>(list: T[]) => list.map((s) => (s === (service as T) ? (again as T) : s));
        started.splice(0, started.length, ...swap(started));
        stack.tokens = swap(stack.tokens);
        stack.mcp = swap(stack.mcp);
        stack.extraAuthorizations = swap(stack.extraAuthorizations);
        if (stack.registration === service) stack.registration = again;
        if (stack.authorization === service) stack.authorization = again;
        if (stack.admin === service) stack.admin = again;
        return again;
      },
      async stop(options = {}) {
        // Every service is stopped, and NATS after them, even when one fails to stop in time; then that is reported.
        const stopped = await Promise.allSettled(started.map((s) => s.stop('SIGTERM', options)));
        await nats.stop();
        const failed = stopped.find((o): o is PromiseRejectedResult => o.status === 'rejected');
        if (failed) throw failed.reason;
      },
    };
    return stack;
  } catch (err) {
    await Promise.all(started.map((s) => s.stop('SIGKILL')));
    await nats.stop();
    throw err;
  }
}

/** A NATS the test owns: the stack uses it and leaves its life to the test. */
function givenNats(given: NonNullable<StackOptions['nats']>): NatsHandle {
  const notOurs = async () => {
    throw new Error('this NATS was given to the stack: the test that started it restarts it');
  };
  return { url: given.url, kind: 'external', restart: notOurs, copyStore: notOurs, restoreStore: notOurs, stop: async () => {}, credentials: given.credentials ?? null, tls: given.tls ?? null };
}
