// The docker compose stack, checked without a Docker engine: docker-compose.yml (alone and with its cluster
// file, docker-compose.cluster.yml, merged as compose merges them), deploy/Caddyfile, the
// Dockerfile and its runtime manifest are read and held against the code they deploy (the build's entry
// points, each service's config schema, its health endpoint). `docker compose config` validates the file
// where the compose CLI exists, and where `caddy` is installed the real Caddyfile runs in front of the
// services (replicas on loopback addresses, resolved by a DNS server like Docker's) to prove the routing
// and the load balancing. test/compose-integration.test.ts runs the real stack where Docker is.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import type { z } from 'zod';
import { NATS_IDENTITIES, type NatsIdentity } from '@mcp-auth/contracts';
import { ensureIdentityCredentials, ensureRoutePassword, isDurableNatsVersion, publicKeyOfSeedFile, serverConfigText, writeServerConfig } from '@mcp-auth/event-store';
import { loadConfig } from '@mcp-auth/http';
import { REPO_ROOT, freePort, startNats, waitForPort, waitUntilAnswers, type NatsHandle } from '@mcp-auth/testing';
import { adminConfigSchema } from '../services/admin/src/config.ts';
import { authorizationConfigSchema } from '../services/authorization/src/config.ts';
import { mcpToolsConfigSchema } from '../services/mcp-tools/src/config.ts';
import { registrationConfigSchema } from '../services/registration/src/config.ts';
import { tokenConfigSchema } from '../services/token/src/config.ts';
import { EDGE_ROUTES, checkStackThroughEdge, startFakeDns, type FakeDns } from './compose-edge.ts';

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

// ---------------------------------------------------------------------------------------------------
// docker-compose.yml

type HealthCheck = { test?: string[] | string; interval?: string; timeout?: string; retries?: number; start_period?: string };
type Dependency = { condition?: string; required?: boolean };
type ComposeService = {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: unknown[];
  expose?: unknown[];
  volumes?: string[];
  depends_on?: Record<string, Dependency> | string[];
  healthcheck?: HealthCheck;
  restart?: string;
  profiles?: string[];
  container_name?: string;
  hostname?: string;
  network_mode?: string;
  deploy?: { replicas?: number };
};
type ComposeFile = { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };

const COMPOSE_TEXT = read('docker-compose.yml');
// Compose resolves YAML merge keys (<<) from its x- anchors; so does this parse.
const compose = parse(COMPOSE_TEXT, { merge: true }) as ComposeFile;
const CLUSTER_FILE = 'docker-compose.cluster.yml';
const CLUSTER_TEXT = read(CLUSTER_FILE);
const clusterOverride = parse(CLUSTER_TEXT, { merge: true }) as ComposeFile;
/** What the cluster file may set on a service docker-compose.yml defines: keys compose merges key by key (maps), or sets where the base has none. */
const MERGED_BY_KEY = ['environment', 'depends_on'] as const;
const SET_WHERE_UNSET = ['profiles'] as const;

/**
 * `docker compose -f docker-compose.yml -f docker-compose.cluster.yml`, for the keys the cluster file uses
 * (checked here): a service of both files gets the override's `environment` and `depends_on` entries added
 * to or replacing its own key by key, and `profiles` where it had none; new services and volumes are added.
 */
function mergeOverride(base: ComposeFile, override: ComposeFile): ComposeFile {
  const services: Record<string, ComposeService> = structuredClone(base.services);
  for (const [name, over] of Object.entries(override.services)) {
    const mine = services[name];
    if (!mine) {
      services[name] = structuredClone(over);
      continue;
    }
    for (const [key, value] of Object.entries(over) as Array<[keyof ComposeService, unknown]>) {
      if ((MERGED_BY_KEY as readonly string[]).includes(key)) {
        const had = mine[key] ?? {};
        assert.ok(!Array.isArray(had) && !Array.isArray(value) && typeof value === 'object', `${name}.${key} is a map in both files, merged key by key`);
        (mine as Record<string, unknown>)[key] = { ...(had as object), ...structuredClone(value as object) };
      } else if ((SET_WHERE_UNSET as readonly string[]).includes(key)) {
        assert.equal(mine[key], undefined, `${name}.${key} is unset in docker-compose.yml, so the override's is the result whatever the compose version's list merge`);
        (mine as Record<string, unknown>)[key] = structuredClone(value);
      } else assert.fail(`${CLUSTER_FILE} sets ${name}.${key}, whose merge this test does not model`);
    }
  }
  return { services, volumes: { ...base.volumes, ...override.volumes } };
}
const clusterStack = mergeOverride(compose, clusterOverride);

/** The five services of the platform, each with the schema that is its whole configuration. */
const APP_SERVICES = {
  registration: registrationConfigSchema,
  authorization: authorizationConfigSchema,
  token: tokenConfigSchema,
  'mcp-tools': mcpToolsConfigSchema,
  admin: adminConfigSchema,
} as const satisfies Record<string, z.ZodObject<z.ZodRawShape>>;
type AppService = keyof typeof APP_SERVICES;
const APP_NAMES = Object.keys(APP_SERVICES) as AppService[];
/** The configuration a service would run with, given this environment (as its entry point loads it). */
const configOf = (name: AppService, env: Record<string, string>) =>
  loadConfig(APP_SERVICES[name] as z.ZodObject<z.ZodRawShape>, env) as Record<string, unknown>;

/**
 * Environment variables a service may be given although its schema does not name them. Empty: every
 * variable in docker-compose.yml is one the service reads. (Add an entry with the reason if one is ever needed.)
 */
const ENV_EXCEPTIONS: Record<string, string> = {};

const CLUSTER_NODES = ['nats-1', 'nats-2', 'nats-3'];
/** Run once and exit (`restart: "no"`): the NATS credentials and configuration, the streams; and the users CLI, run by hand. */
const ONE_SHOT = ['nats-credentials', 'nats-streams', 'users'];
/** Where each process finds its NATS credential: a volume of its own, mounted read-only. */
const CREDENTIAL_MOUNT = '/nats-credential';

/** Compose's variable interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR:+alt}. */
function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced?: string, op?: string, arg?: string, bare?: string) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare)!;
    const v = vars[name];
    const set = v !== undefined;
    const nonEmpty = set && v !== '';
    switch (op) {
      case undefined:
        return v ?? '';
      case ':-':
        return nonEmpty ? v! : (arg ?? '');
      case '-':
        return set ? v! : (arg ?? '');
      case ':+':
        return nonEmpty ? (arg ?? '') : '';
      case '+':
        return set ? (arg ?? '') : '';
      case ':?':
      case '?':
        if (op === ':?' ? nonEmpty : set) return v!;
        throw new Error(`${name}: ${arg || 'required'}`);
      default:
        throw new Error(`unsupported interpolation ${whole}`);
    }
  });
}

function service(name: string, stack: ComposeFile = compose): ComposeService {
  const found = stack.services[name];
  assert.ok(found, `${stack === compose ? 'docker-compose.yml' : 'the cluster stack'} has a service "${name}"`);
  return found;
}

function environmentOf(name: string, stack: ComposeFile = compose): Record<string, string | null> {
  const env = service(name, stack).environment ?? {};
  assert.ok(!Array.isArray(env), `${name}: environment is a map (the x- anchors merge into it)`);
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? null : String(v)]));
}

/**
 * What a container of the service gets, as compose computes it: values interpolated from `vars` (the
 * shell), and a key without a value passed through from `vars` only when set there.
 */
function containerEnv(name: string, vars: Record<string, string | undefined>, stack: ComposeFile = compose): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(environmentOf(name, stack))) {
    if (value === null) {
      if (vars[key] !== undefined) out[key] = vars[key]!;
    } else out[key] = interpolate(value, vars);
  }
  return out;
}

function commandOf(name: string, stack: ComposeFile = compose): string[] {
  const command = service(name, stack).command;
  assert.ok(Array.isArray(command), `${name}: command is an exec-form list`);
  return command.map(String);
}

function healthTest(name: string): string[] {
  const test = service(name).healthcheck?.test;
  assert.ok(Array.isArray(test), `${name}: has a healthcheck whose test is an exec-form list`);
  return test.map(String);
}

function dependencies(name: string, stack: ComposeFile = compose): Record<string, Dependency> {
  const deps = service(name, stack).depends_on ?? {};
  assert.ok(!Array.isArray(deps), `${name}: depends_on uses the long form (with conditions)`);
  return deps;
}

// ---------------------------------------------------------------------------------------------------
// deploy/Caddyfile (the subset of the syntax the file uses: one site, named path matchers, handle blocks)

type EdgeRoute = { matcher: string | null; paths: string[] | null; upstream?: { service: string; port: number; lbPolicy?: string }; respond?: number };
type Edge = { listen: string; routes: EdgeRoute[] };

const CADDYFILE_TEXT = read('deploy/Caddyfile');

function parseCaddyfile(text: string): Edge {
  const lines = text
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
    .filter(Boolean);
  const matchers = new Map<string, string[]>();
  const named: EdgeRoute[] = [];
  const fallback: EdgeRoute[] = [];
  let listen: string | null = null;
  let depth = 0;
  let inSite = false;
  let current: EdgeRoute | null = null;
  let currentDepth = 0;
  for (const line of lines) {
    if (depth === 0 && line.endsWith('{')) {
      // `{` alone opens the global options; `<address> {` a site.
      inSite = line !== '{';
      if (inSite) {
        assert.equal(listen, null, 'the Caddyfile has one site');
        listen = line.slice(0, -1).trim();
      }
    }
    if (depth === 1 && inSite) {
      const matcher = /^@(\S+)\s+path\s+(.+)$/.exec(line);
      if (matcher) matchers.set(matcher[1]!, matcher[2]!.split(/\s+/));
      const handle = /^handle(?:\s+@(\S+))?\s*\{$/.exec(line);
      if (handle) {
        const name = handle[1] ?? null;
        if (name !== null) assert.ok(matchers.has(name), `matcher @${name} is defined before its handle`);
        current = { matcher: name, paths: name === null ? null : matchers.get(name)! };
        currentDepth = depth + 1;
        (name === null ? fallback : named).push(current);
      } else if (!matcher && !line.startsWith('}')) {
        assert.fail(`unexpected line in the site block: ${line}`);
      }
    }
    if (current && depth >= currentDepth) {
      const dynamic = /^dynamic a (\S+) (\d+)/.exec(line);
      if (dynamic) current.upstream = { ...current.upstream, service: dynamic[1]!, port: Number(dynamic[2]) };
      const policy = /^lb_policy (\S+)/.exec(line);
      if (policy && current.upstream) current.upstream.lbPolicy = policy[1]!;
      const respond = /^respond (\d{3})$/.exec(line);
      if (respond) current.respond = Number(respond[1]);
    }
    depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
    if (current && depth < currentDepth) current = null;
  }
  assert.equal(depth, 0, 'braces balance');
  assert.ok(listen, 'the Caddyfile has a site address');
  // Caddy keeps `handle` blocks with named matchers in file order and puts the one without a matcher last.
  return { listen, routes: [...named, ...fallback] };
}

let parsedEdge: Edge | undefined;
/** Parsed on first use, so that a file the parser cannot read fails the tests that need it, with the reason. */
const edge = (): Edge => (parsedEdge ??= parseCaddyfile(CADDYFILE_TEXT));

/** Caddy's path matcher: exact, or a prefix when the pattern ends with `*`. */
const pathMatches = (pattern: string, path: string) => (pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern);

function edgeRouteFor(path: string): EdgeRoute | undefined {
  return edge().routes.find((r) => r.paths === null || r.paths.some((p) => pathMatches(p, path)));
}

// ---------------------------------------------------------------------------------------------------
// Dockerfile

type Stage = { name: string | null; from: string; instructions: Array<{ op: string; args: string }> };

function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) pending += `${line.slice(0, -1)} `;
    else {
      logical.push(pending + line);
      pending = '';
    }
  }
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = op.toUpperCase();
    if (instruction === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      assert.ok(m, `FROM ${rest}`);
      stages.push({ name: m[2] ?? null, from: m[1]!, instructions: [] });
    } else if (instruction === 'ARG' && stages.length === 0) {
      const [k, v = ''] = rest.split('=');
      args[k!] = v;
    } else {
      assert.ok(stages.length > 0, `${instruction} before the first FROM`);
      stages.at(-1)!.instructions.push({ op: instruction, args: rest });
    }
  }
  return { args, stages };
}

// ---------------------------------------------------------------------------------------------------

describe('docker compose: docker-compose.yml against the code it deploys', () => {
  test('the five services, NATS, the proxy and the one-shots are all there; the cluster file adds its three nodes', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), [...APP_NAMES, 'nats', ...ONE_SHOT, 'proxy'].sort());
    assert.deepEqual(Object.keys(clusterStack.services).sort(), [...APP_NAMES, 'nats', ...CLUSTER_NODES, ...ONE_SHOT, 'proxy'].sort());
  });

  test('every service runs a bundle that `npm run build` produces, from the one Dockerfile', () => {
    const build = read('scripts/build.mjs');
    const listed = /const services = \[([^\]]*)\]/.exec(build);
    assert.ok(listed, 'scripts/build.mjs lists its services in `const services = [...]`');
    const bundles = new Set([...listed[1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!));
    for (const extra of build.matchAll(/entryPoints\['([^']+)'\]\s*=/g)) bundles.add(extra[1]!);
    assert.match(build, /outdir: 'dist'/);
    assert.match(build, /outExtension: \{ '\.js': '\.mjs' \}/);

    for (const name of APP_NAMES) {
      const command = commandOf(name);
      assert.equal(command[0], 'node', `${name} runs node`);
      const bundle = /^dist\/(.+)\.mjs$/.exec(command[1] ?? '')?.[1];
      assert.ok(bundle && bundles.has(bundle), `${name}: ${command[1]} is one of the bundles (${[...bundles].join(', ')})`);
      assert.equal(bundle, name, `${name} runs its own bundle`);
      assert.ok(existsSync(join(REPO_ROOT, 'services', name, 'src', 'main.ts')), `services/${name}/src/main.ts exists`);
      const { build: b, image } = service(name);
      assert.ok(b && typeof b === 'object', `${name} is built`);
      assert.equal(b.context, '.');
      assert.equal(b.dockerfile ?? 'Dockerfile', 'Dockerfile');
      assert.equal(image, service('registration').image, 'all five share one image');
    }
  });

  test("every environment variable set on a service is a key of that service's config schema", () => {
    for (const name of APP_NAMES) {
      const known = new Set(Object.keys(APP_SERVICES[name].shape));
      const unknown = Object.keys(environmentOf(name)).filter((key) => !known.has(key) && !(key in ENV_EXCEPTIONS));
      assert.deepEqual(unknown, [], `${name} is given variables its schema (services/${name}/src/config.ts) does not know`);
    }
  });

  test('with no variables set, every service gets a valid configuration under http://localhost:8080', () => {
    for (const name of APP_NAMES) {
      const env = containerEnv(name, {});
      const config = configOf(name, env);
      assert.equal(config.HOST, '0.0.0.0', `${name} listens on every interface of its container`);
      assert.equal(config.TRUSTED_PROXY_HOPS, 1, `${name} takes the client's address from the one X-Forwarded-For entry the edge appends`);
      assert.equal(config.NATS_URL, 'nats://nats:4222');
      assert.equal(config.NATS_STREAM_REPLICAS, 1);
      if (name === 'registration') {
        assert.equal(config.REGISTRATION_BASE_URL, 'http://localhost:8080');
      } else if (name === 'admin') {
        assert.equal(config.ADMIN_BASE_URL, 'http://localhost:8080');
      } else {
        assert.equal(config.ISSUER, 'http://localhost:8080');
        assert.equal(config.REGISTRATION_BASE_URL, 'http://localhost:8080');
        assert.equal(config.TOKEN_BASE_URL, 'http://localhost:8080');
        assert.equal(config.MCP_RESOURCE_URL, 'http://localhost:8080/mcp');
      }
    }
  });

  test('PUBLIC_URL moves every public URL; a NATS_URL in the shell does not move NATS', () => {
    const vars = {
      PUBLIC_URL: 'https://auth.example.com',
      NATS_URL: 'nats://127.0.0.1:4222',
      NATS_STREAM_REPLICAS: '3',
    };
    for (const name of APP_NAMES) {
      const config = configOf(name, containerEnv(name, vars));
      assert.equal(config.NATS_URL, 'nats://nats:4222', `${name}: the NATS of the stack, whatever the shell says`);
      assert.equal(config.NATS_STREAM_REPLICAS, 1);
      for (const key of ['ISSUER', 'REGISTRATION_BASE_URL', 'TOKEN_BASE_URL', 'ADMIN_BASE_URL']) {
        if (key in config) assert.equal(config[key], 'https://auth.example.com', `${name} ${key}`);
      }
      if ('MCP_RESOURCE_URL' in config) assert.equal(config.MCP_RESOURCE_URL, 'https://auth.example.com/mcp');
    }
  });

  test('no secret has a default: SEED_USERS, INTROSPECTION_CREDENTIALS, ADMIN_TOKEN and WEBHOOK_SECRETS_KEY come only from the environment', () => {
    for (const key of ['ADMIN_TOKEN', 'WEBHOOK_SECRETS_KEY']) {
      assert.ok(key in environmentOf('admin'), `admin takes ${key}`);
      assert.equal(containerEnv('admin', {})[key], undefined, `${key} is unset unless given`);
      assert.equal(containerEnv('admin', { [key]: 'from-env' })[key], 'from-env');
    }
    assert.ok('SEED_USERS' in environmentOf('authorization'), 'authorization takes SEED_USERS');
    assert.equal(containerEnv('authorization', {}).SEED_USERS ?? '', '', 'no seeded user unless asked for');
    assert.equal(containerEnv('authorization', { SEED_USERS: 'alice:pw' }).SEED_USERS, 'alice:pw');
    assert.equal(containerEnv('token', {}).INTROSPECTION_CREDENTIALS ?? '', '');
    for (const name of APP_NAMES) {
      for (const [key, value] of Object.entries(containerEnv(name, {}))) {
        assert.doesNotMatch(value, /password|secret/i, `${name}: ${key} carries no baked-in secret`);
      }
    }
  });

  test('PORT agrees with the /readyz health check and with the proxy upstream', () => {
    for (const name of APP_NAMES) {
      const env = environmentOf(name);
      const port = Number(env.PORT ?? APP_SERVICES[name].shape.PORT.parse(undefined));
      assert.ok(env.PORT, `${name} sets PORT explicitly`);
      const script = healthTest(name).join(' ');
      const checked = /127\.0\.0\.1:(\d+)\/readyz/.exec(script)?.[1];
      if (checked) assert.equal(Number(checked), port, `${name}: the health check asks the port the service listens on`);
      else assert.match(script, /'http:\/\/127\.0\.0\.1:'\s*\+\s*process\.env\.PORT\s*\+\s*'\/readyz'/, `${name}: the health check asks 127.0.0.1:$PORT/readyz`);
      const upstream = edge().routes.find((r) => r.upstream?.service === name)?.upstream;
      assert.ok(upstream, `the proxy has an upstream for ${name}`);
      assert.equal(upstream.port, port, `the proxy reaches ${name} on its PORT`);
    }
  });

  test('every service has a health check; the five services use /readyz with node (the image has no curl)', () => {
    for (const name of Object.keys(clusterStack.services).filter((n) => !ONE_SHOT.includes(n))) {
      const check = service(name, clusterStack).healthcheck;
      assert.ok(check?.test, `${name} has a health check`);
      assert.ok(check.interval && check.timeout && check.retries, `${name}: interval, timeout and retries are set`);
    }
    for (const name of APP_NAMES) {
      const [kind, program, flag, script = ''] = healthTest(name);
      assert.deepEqual([kind, program, flag], ['CMD', 'node', '-e'], `${name}: exec form, node -e`);
      assert.match(script, /^fetch\(.*\/readyz'\)\.then\(r=>process\.exit\(r\.ok\?0:1\),\(\)=>process\.exit\(1\)\)$/, `${name}: exits 0 only on a 2xx from /readyz`);
      assert.ok(service(name).healthcheck!.start_period, `${name} has a start period (a projection may replay the stream)`);
    }
  });

  test('start order: credentials and configuration first, then NATS, then the streams (as the operator), then the services, then the proxy', () => {
    for (const [stack, servers] of [[compose, ['nats']], [clusterStack, CLUSTER_NODES]] as const) {
      for (const nats of servers) assert.equal(dependencies(nats, stack)['nats-credentials']?.condition, 'service_completed_successfully', `${nats} starts with its configuration written`);
      const streams = dependencies('nats-streams', stack);
      for (const nats of servers) assert.equal(streams[nats]?.condition, 'service_healthy', `nats-streams waits for ${nats}`);
      for (const name of APP_NAMES) {
        const deps = dependencies(name, stack);
        assert.equal(deps['nats-streams']?.condition, 'service_completed_successfully', `${name} starts once the streams exist`);
        assert.notEqual(deps['nats-streams']?.required, false, `${name}: the streams are required`);
      }
      const proxyDeps = dependencies('proxy', stack);
      for (const name of APP_NAMES) assert.equal(proxyDeps[name]?.condition, 'service_healthy', `the proxy waits for ${name}`);
      for (const name of Object.keys(stack.services)) {
        assert.equal(service(name, stack).restart, ONE_SHOT.includes(name) ? 'no' : 'unless-stopped', `${name}: ${ONE_SHOT.includes(name) ? 'runs once' : 'restarts unless stopped'}`);
      }
    }
    // The one optional edge, so that the cluster file can leave `nats` out: nats-streams, which the
    // services need to have completed, retries while NATS starts and fails when it never answers.
    assert.deepEqual(dependencies('nats-streams').nats, { condition: 'service_healthy', required: false });
    for (const name of Object.keys(compose.services).filter((n) => n !== 'nats-streams')) {
      assert.equal(dependencies(name).nats, undefined, `${name} depends on nats only through nats-streams`);
    }
    assert.match(read('libs/event-store/src/setup-cli.ts'), /if \(Date\.now\(\) > deadline\) fail\(/, 'the streams step gives up, failing, when NATS never answers');
  });

  test('the cluster file: `nats` is not started and nothing waits for it, every process is pointed at the three nodes, the streams are R3', () => {
    const enabled = (name: string) => (service(name, clusterStack).profiles ?? []).length === 0;
    assert.ok(!enabled('nats'), 'nats is left out by a profile');
    const natsProfiles = service('nats', clusterStack).profiles!;
    const otherProfiles = new Set(Object.entries(clusterStack.services).filter(([n]) => n !== 'nats').flatMap(([, s]) => s.profiles ?? []));
    assert.ok(natsProfiles.every((p) => !otherProfiles.has(p) && p !== '*'), `no other service's profile (${[...otherProfiles].join(', ')}) brings nats back`);
    for (const name of [...CLUSTER_NODES, ...APP_NAMES, 'nats-credentials', 'nats-streams', 'proxy']) assert.ok(enabled(name), `${name} runs by default with the cluster file`);
    for (const [name, s] of Object.entries(clusterStack.services)) {
      if (name === 'nats') continue;
      for (const [dep, config] of Object.entries(dependencies(name, clusterStack))) {
        if (dep === 'nats') assert.equal(config.required, false, `${name}: nats is an optional dependency, skipped when it is left out`);
        else assert.ok(enabled(dep) || (s.profiles ?? []).length > 0, `${name} depends on ${dep}, which runs`);
      }
    }
    const cluster = CLUSTER_NODES.map((n) => `nats://${n}:4222`).join(',');
    const shell = { NATS_URL: 'nats://nats:4222', NATS_STREAM_REPLICAS: '1' };
    for (const name of APP_NAMES) {
      const config = configOf(name, containerEnv(name, shell, clusterStack));
      assert.equal(config.NATS_URL, cluster, `${name} connects to the three nodes`);
      assert.equal(config.NATS_STREAM_REPLICAS, 3, `${name} expects three replicas`);
    }
    assert.equal(containerEnv('nats-streams', shell, clusterStack).NATS_URL, cluster);
    assert.equal(containerEnv('nats-streams', shell, clusterStack).NATS_STREAM_REPLICAS, '3', 'the streams are made with three replicas');
    assert.equal(containerEnv('users', shell, clusterStack).NATS_URL, cluster, 'the users CLI adds users on the cluster');
    for (const [name, s] of Object.entries(clusterStack.services)) {
      if (name === 'nats') continue;
      for (const [key, value] of Object.entries(containerEnv(name, shell, clusterStack))) {
        assert.doesNotMatch(value, /(^|[/,@])nats:4222/, `${name}: ${key} does not name the single server`);
      }
      assert.ok(!(s.volumes ?? []).some((v) => v.startsWith('nats-data:')), `${name} does not mount the single server's data`);
    }
  });

  test('scalable: only the proxy publishes a port; no fixed container names; no volume on a service but its NATS credential', () => {
    for (const [name, s] of Object.entries(clusterStack.services)) {
      if (name !== 'proxy') assert.equal(s.ports, undefined, `${name} publishes no host port`);
      assert.equal(s.container_name, undefined, `${name} has no fixed container_name (it could not be scaled)`);
      assert.equal(s.hostname, undefined, `${name} has no fixed hostname`);
      assert.equal(s.network_mode, undefined, `${name} stays on the project network`);
    }
    for (const name of APP_NAMES) {
      assert.deepEqual(service(name).volumes, [`nats-credential-${name}:${CREDENTIAL_MOUNT}:ro`], `${name}: each replica keeps its own projection in its container; it mounts only its NATS credential`);
      assert.equal(service(name).profiles, undefined, `${name} runs in every profile`);
    }
    const ports = service('proxy').ports ?? [];
    assert.equal(ports.length, 1, 'the proxy publishes one port');
    const published = interpolate(String(ports[0]), {});
    assert.equal(published, `127.0.0.1:8080:${edge().listen.replace(/^.*:/, '')}`, 'the proxy publishes its listening port on localhost:8080 by default');
    assert.equal(interpolate(String(ports[0]), { PUBLIC_PORT: '9000', PUBLIC_BIND: '0.0.0.0' }), '0.0.0.0:9000:8080');
  });

  test('NATS runs with JetStream on a named volume and its generated configuration; the cluster file has three nodes, each with its own volume and configuration', () => {
    const nats = service('nats');
    assertPinnedDurableNats(nats.image);
    const single = commandOf('nats');
    assert.ok(single.includes('-js'), 'JetStream is on');
    assert.equal(single[single.indexOf('-sd') + 1], '/data');
    assert.equal(single[single.indexOf('-c') + 1], '/nats-config/nats.conf', 'the configuration made from the permission matrix');
    assert.equal(nats.profiles, undefined, 'the single server runs by default');
    assert.deepEqual(nats.volumes, ['nats-data:/data', 'nats-config:/nats-config:ro']);

    const volumes = new Set<string>(['nats-data']);
    const serverNames = new Set<string>();
    for (const node of CLUSTER_NODES) {
      const s = service(node, clusterStack);
      assert.equal(s.profiles, undefined, `${node} runs whenever the cluster file is given`);
      assertPinnedDurableNats(s.image);
      assert.equal(s.image, nats.image, `${node} runs the single server's pinned NATS (raise both together)`);
      const args = commandOf(node, clusterStack);
      const value = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
      assert.ok(args.includes('-js'), `${node}: JetStream is on`);
      assert.equal(value('-sd'), '/data');
      assert.equal(value('-c'), `/nats-config/${node}.conf`, `${node}: its cluster block and routes are in its configuration`);
      assert.ok(!args.includes('--routes') && !args.includes('--cluster'), `${node}: no unauthenticated route on the command line`);
      serverNames.add(String(value('--server_name')));
      assert.equal(s.volumes?.length, 2);
      const volume = s.volumes![0]!.split(':')[0]!;
      assert.equal(s.volumes![0], `${volume}:/data`);
      assert.equal(s.volumes![1], 'nats-config:/nats-config:ro');
      assert.ok(!volumes.has(volume), `${node} has a volume of its own`);
      volumes.add(volume);
    }
    assert.equal(serverNames.size, 3, 'JetStream cluster nodes need distinct server names');
    const credentials = NATS_IDENTITIES.map((identity) => `nats-credential-${identity}`);
    assert.deepEqual(Object.keys(compose.volumes ?? {}).sort(), ['nats-data', 'nats-config', ...credentials].sort(), 'every volume of docker-compose.yml is declared');
    assert.deepEqual(Object.keys(clusterStack.volumes ?? {}).sort(), [...volumes, 'nats-config', ...credentials].sort(), 'the cluster file declares its nodes\' volumes');
    const command = 'docker compose -f docker-compose.yml -f docker-compose.cluster.yml up --build';
    for (const [file, text] of [['docker-compose.yml', COMPOSE_TEXT], [CLUSTER_FILE, CLUSTER_TEXT], ['README.md', read('README.md')]] as const) {
      assert.ok(text.includes(command), `${file} says how to run the cluster: ${command}`);
      assert.doesNotMatch(text, /--profile cluster/, `${file} names no cluster profile, which no longer exists`);
    }
  });
});

describe('docker compose: NATS as a trust boundary (credentials per identity, the operator setup, authenticated routes)', () => {
  const mountsOf = (name: string) => (service(name).volumes ?? []).filter((v) => v.startsWith('nats-credential-'));

  test('each process mounts only its own credential, read-only, and is told where it is; the init step alone mounts them all', () => {
    const holders: Array<[string, NatsIdentity]> = [...APP_NAMES.map((n): [string, NatsIdentity] => [n, n]), ['nats-streams', 'operator'], ['users', 'users']];
    for (const [name, identity] of holders) {
      assert.deepEqual(mountsOf(name), [`nats-credential-${identity}:${CREDENTIAL_MOUNT}:ro`], `${name} mounts the ${identity} credential only`);
      assert.equal(environmentOf(name).NATS_CREDENTIALS_FILE, `${CREDENTIAL_MOUNT}/${identity}.nk`, `${name} is told where it is`);
    }
    for (const stack of [compose, clusterStack]) {
      for (const [name, s] of Object.entries(stack.services).filter(([n]) => n !== 'nats-credentials' && !holders.some(([h]) => h === n))) {
        assert.deepEqual((s.volumes ?? []).filter((v) => v.startsWith('nats-credential-')), [], `${name} mounts no credential`);
      }
    }
    const init = service('nats-credentials');
    assert.deepEqual(
      (init.volumes ?? []).sort(),
      ['nats-config:/nats-config', ...NATS_IDENTITIES.map((identity) => `nats-credential-${identity}:/nats-credentials/${identity}`)].sort(),
      'the init step writes every credential, each into its own volume, and the configuration',
    );
    assert.equal((init as { user?: string }).user, 'root', 'it runs as root to hand the files to the services\' user');
    assert.deepEqual(commandOf('nats-credentials'), ['node', 'dist/nats-setup.mjs', 'compose', '/nats-credentials', '/nats-config', '--owner', '1000:1000']);
    assert.match(read('Dockerfile'), /USER node/, 'the services run as the image\'s node user (uid 1000), who owns the credentials');
    assert.deepEqual(commandOf('nats-streams'), ['node', 'dist/nats-setup.mjs', 'streams']);
    assert.equal(containerEnv('nats-streams', {}).NATS_URL, 'nats://nats:4222');
    assert.equal(containerEnv('nats-streams', {}).NATS_STREAM_REPLICAS, '1');
  });

  test('the init step, run for real into a folder laid out as its volumes: private credentials, and configurations every nats-server accepts', () => {
    const work = mkdtempSync(join(tmpdir(), 'compose-nats-'));
    try {
      const [program, ...args] = commandOf('nats-credentials');
      const run = spawnSync(program!, [join(REPO_ROOT, args[0]!), args[1]!, join(work, 'credentials'), join(work, 'config')], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      for (const identity of NATS_IDENTITIES) {
        const file = join(work, 'credentials', identity, `${identity}.nk`);
        assert.equal(statSync(file).mode & 0o777, 0o600, file);
        assert.equal(statSync(join(work, 'credentials', identity)).mode & 0o777, 0o700);
      }
      const keys = Object.fromEntries(NATS_IDENTITIES.map((identity) => [identity, publicKeyOfSeedFile(join(work, 'credentials', identity, `${identity}.nk`))]));
      const password = readFileSync(join(work, 'config', 'route-password'), 'utf8').trim();
      assert.match(password, /^[A-Za-z0-9_-]{32}$/);
      for (const file of ['nats.conf', ...CLUSTER_NODES.map((n) => `${n}.conf`)]) {
        const text = readFileSync(join(work, 'config', file), 'utf8');
        for (const identity of NATS_IDENTITIES) assert.ok(text.includes(keys[identity]!), `${file} names ${identity}`);
        assert.ok(!/SU[A-Z2-7]{56}/.test(text), `${file} holds no seed`);
        for (const binary of natsServerBinaries()) {
          const check = spawnSync(binary, ['-t', '-c', join(work, 'config', file)], { encoding: 'utf8' });
          assert.equal(check.status, 0, `${binary} -t ${file}: ${check.stderr}${check.stdout}`);
        }
      }
      for (const node of CLUSTER_NODES) {
        const text = readFileSync(join(work, 'config', `${node}.conf`), 'utf8');
        const cluster = JSON.parse(/^cluster: (\{[\s\S]*?\n\})/m.exec(text)![1]!) as { name: string; listen: string; authorization: { user: string; password: string }; routes: string[] };
        assert.equal(cluster.name, 'mcp-auth');
        assert.equal(cluster.listen, '0.0.0.0:6222');
        assert.deepEqual(cluster.authorization, { user: 'route', password }, `${node} accepts only routes with the routes' password`);
        assert.deepEqual(cluster.routes, CLUSTER_NODES.filter((n) => n !== node).map((n) => `nats-route://route:${password}@${n}:6222`), `${node} routes to the others with it`);
      }
      // At the next `up` nothing is made again: the same credentials, the same route password.
      assert.equal(spawnSync(program!, [join(REPO_ROOT, args[0]!), args[1]!, join(work, 'credentials'), join(work, 'config')]).status, 0);
      assert.equal(publicKeyOfSeedFile(join(work, 'credentials', 'token', 'token.nk')), keys.token);
      assert.equal(readFileSync(join(work, 'config', 'route-password'), 'utf8').trim(), password);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  test('routes made by the same generator are authenticated: two nodes with the password form a cluster, a third without it does not join', async (t) => {
    const binary = natsServerBinaries()[0];
    if (!binary) return t.skip('no nats-server here');
    const work = mkdtempSync(join(tmpdir(), 'compose-routes-'));
    const nodes: ChildProcess[] = [];
    try {
      const keys = ensureIdentityCredentials(join(work, 'credentials'));
      const authorization = ensureRoutePassword(join(work, 'config'));
      const [a, b, c] = await Promise.all([0, 1, 2].map(async () => ({ client: await freePort(), route: await freePort(), monitor: await freePort() })));
      const start = (name: string, ports: { client: number; route: number; monitor: number }, routes: string[], auth: { user: string; password: string }) => {
        const file = join(work, 'config', `${name}.conf`);
        writeServerConfig(file, serverConfigText({ keys, cluster: { name: 'test', listen: `127.0.0.1:${ports.route}`, routes, authorization: auth } }));
        const node = spawn(binary, ['--server_name', name, '-a', '127.0.0.1', '-p', String(ports.client), '-m', String(ports.monitor), '-c', file], { stdio: 'ignore' });
        nodes.push(node);
        return node;
      };
      const routes = async (ports: { monitor: number }) => ((await (await fetch(`http://127.0.0.1:${ports.monitor}/routez`)).json()) as { num_routes: number }).num_routes;
      start('a', a!, [`nats-route://127.0.0.1:${b!.route}`], authorization);
      start('b', b!, [`nats-route://127.0.0.1:${a!.route}`], authorization);
      await Promise.all([a!, b!].map((p) => waitForPort(p.monitor, 10_000)));
      for (let i = 0; i < 100 && (await routes(a!)) < 1; i++) await new Promise((r) => setTimeout(r, 100));
      // One route on 2.9; NATS 2.10 keeps a pool of them per pair of nodes.
      await new Promise((r) => setTimeout(r, 500));
      const formed = await routes(a!);
      assert.ok(formed >= 1, 'a and b are routed');
      start('c', c!, [`nats-route://127.0.0.1:${a!.route}`], { user: 'route', password: 'not-the-password' });
      await waitForPort(c!.monitor, 10_000);
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(await routes(a!), formed, 'c, with another password, is not routed to a');
      assert.equal(await routes(c!), 0);
    } finally {
      for (const node of nodes) node.kill('SIGTERM');
      rmSync(work, { recursive: true, force: true });
    }
  });
});

/** The nats-server binaries of this machine: NATS_SERVER_BIN, else the one on the PATH. */
function natsServerBinaries(): string[] {
  return [process.env.NATS_SERVER_BIN, 'nats-server'].filter((b): b is string => !!b && spawnSync(b, ['--version']).status === 0).slice(0, 1);
}

describe('docker compose: the edge proxy (deploy/Caddyfile)', () => {
  test('the proxy is Caddy with deploy/Caddyfile, listening on the port compose publishes', () => {
    const proxy = service('proxy');
    assert.match(String(proxy.image), /^caddy:2/);
    assert.ok(proxy.volumes?.includes('./deploy/Caddyfile:/etc/caddy/Caddyfile:ro'));
    assert.equal(edge().listen, ':8080');
  });

  for (const [path, expected] of EDGE_ROUTES) {
    test(`${path} goes to ${expected}`, () => {
      const route = edgeRouteFor(path);
      assert.equal(route?.upstream?.service, expected, `${path} is routed to ${route?.upstream?.service ?? route?.respond ?? 'nothing'}`);
    });
  }

  test('/metrics is answered 404 by the edge itself', () => {
    const route = edgeRouteFor('/metrics');
    assert.equal(route?.upstream, undefined);
    assert.equal(route?.respond, 404);
  });

  test('every upstream is a compose service, resolved to all its replicas and balanced round-robin', () => {
    const upstreams = edge().routes.flatMap((r) => (r.upstream ? [r.upstream] : []));
    assert.deepEqual(upstreams.map((u) => u.service).sort(), [...APP_NAMES].sort());
    for (const u of upstreams) {
      assert.ok(u.service in compose.services, `${u.service} is a compose service`);
      assert.equal(u.lbPolicy, 'round_robin', `${u.service} is balanced round-robin`);
    }
    assert.match(CADDYFILE_TEXT, /admin off/);
    assert.match(CADDYFILE_TEXT, /auto_https off/);
  });
});

describe('docker compose: the Dockerfile', () => {
  const { args, stages } = parseDockerfile(read('Dockerfile'));
  const image = (from: string) => from.replace(/^\$\{?(\w+)\}?$/, (_, name: string) => args[name] ?? from);
  const runs = (stage: Stage) => stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
  const final = stages.at(-1)!;

  test('multi-stage, on node:20-bookworm-slim', () => {
    assert.ok(stages.length >= 2, 'more than one stage');
    for (const stage of stages) {
      const from = image(stage.from);
      const base = stages.find((s) => s.name === from);
      assert.ok(base || from === 'node:20-bookworm-slim', `stage ${stage.name} is FROM node:20-bookworm-slim (or an earlier stage), not ${from}`);
    }
  });

  test('a build stage runs `npm ci` and `npm run build`', () => {
    const build = stages.find((s) => runs(s).some((r) => /npm run build/.test(r)));
    assert.ok(build, 'some stage runs npm run build');
    assert.ok(runs(build).some((r) => /npm ci(?! --omit=dev)/.test(r)), 'and installs the workspace with npm ci first');
  });

  test('the runtime gets its node_modules from `npm ci --omit=dev`, and nothing else from the build but dist/', () => {
    const installs = stages.filter((s) => runs(s).some((r) => /npm ci\b[^&]*--omit=dev/.test(r)));
    assert.ok(installs.length > 0, 'some stage runs npm ci --omit=dev');
    const copies = final.instructions.filter((i) => i.op === 'COPY');
    const modules = copies.find((c) => /node_modules/.test(c.args));
    const installsItself = runs(final).some((r) => /npm ci\b[^&]*--omit=dev/.test(r));
    if (!installsItself) {
      assert.ok(modules, 'the final stage copies node_modules');
      const from = /--from=(\S+)/.exec(modules.args)?.[1];
      assert.ok(installs.some((s) => s.name === from), `node_modules come from the npm ci --omit=dev stage, not from ${from}`);
    }
    const fromBuild = copies.filter((c) => /--from=/.test(c.args) && !/node_modules/.test(c.args));
    for (const c of fromBuild) assert.match(c.args, /\/app\/dist \.\/dist$/, `the final stage copies only dist/ from the build: COPY ${c.args}`);
    assert.ok(!runs(final).some((r) => /apt-get install|g\+\+|python3/.test(r)), 'no compilers in the runtime image');
  });

  test('the runtime stage runs as a non-root user with HOST=0.0.0.0, and starts a bundle', () => {
    const user = final.instructions.filter((i) => i.op === 'USER').at(-1)?.args;
    assert.ok(user, 'the final stage sets USER');
    assert.ok(!/^(root|0)(:|$)/.test(user), `USER ${user} is not root`);
    const env = final.instructions.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    assert.match(env, /\bHOST=0\.0\.0\.0\b/);
    const cmd = final.instructions.filter((i) => i.op === 'CMD').at(-1)?.args;
    assert.match(String(cmd), /"node", "dist\/[\w-]+\.mjs"/);
  });

  test('deploy/runtime pins the better-sqlite3 of the root lockfile, and it is all the bundles leave external', () => {
    const rootLock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version?: string }> };
    const runtime = JSON.parse(read('deploy/runtime/package.json')) as { dependencies: Record<string, string> };
    const runtimeLock = JSON.parse(read('deploy/runtime/package-lock.json')) as { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> };
    const external = /external: \[([^\]]*)\]/.exec(read('scripts/build.mjs'))?.[1];
    assert.ok(external !== undefined, 'scripts/build.mjs lists its externals');
    const externals = [...external.matchAll(/'([^']+)'/g)].map((m) => m[1]!).sort();
    assert.deepEqual(Object.keys(runtime.dependencies).sort(), externals, 'the runtime installs exactly the packages esbuild leaves out');
    for (const name of externals) {
      const version = rootLock.packages[`node_modules/${name}`]?.version;
      assert.equal(runtime.dependencies[name], version, `${name}: deploy/runtime/package.json pins the root lockfile's ${version}; update it and run \`npm install --package-lock-only\` in deploy/runtime`);
      assert.equal(runtimeLock.packages[`node_modules/${name}`]?.version, version, `deploy/runtime/package-lock.json is in step (npm install --package-lock-only in deploy/runtime)`);
      assert.deepEqual(runtimeLock.packages['']?.dependencies, runtime.dependencies);
    }
  });

  test('.dockerignore keeps dependencies, build output, data, test tools and history out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['node_modules', 'dist', 'data', 'test-artifacts', '.git', '.cache']) {
      assert.ok(ignored.includes(entry) || ignored.includes(`**/${entry}`), `.dockerignore has ${entry}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// The compose CLI, where it is installed (it validates without an engine).

function composeCli(): { argv: string[] } | { skip: string } {
  const plugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8', timeout: 15_000 });
  if (plugin.status === 0) return { argv: ['docker', 'compose'] };
  const standalone = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8', timeout: 15_000 });
  if (standalone.status === 0 && /^v?2\./.test(standalone.stdout.trim())) return { argv: ['docker-compose'] };
  if ((plugin.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return { skip: 'no docker CLI on this machine, so `docker compose config` cannot run' };
  const said = (plugin.stderr || plugin.stdout || String(plugin.error ?? '')).trim().split('\n')[0];
  return { skip: `the docker CLI has no compose plugin (\`docker compose version\` said: ${said}) and no docker-compose v2 is installed` };
}

describe('docker compose: the compose CLI accepts the file', () => {
  const cli = composeCli();
  const run = (t: { skip(message?: string): void }, files: string[]) => {
    if ('skip' in cli) {
      t.skip(cli.skip);
      return;
    }
    const [program, ...argv] = cli.argv;
    const result = spawnSync(program!, [...argv, ...files.flatMap((file) => ['-f', join(REPO_ROOT, file)]), 'config', '--quiet'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 0, `docker compose config failed:\n${result.stderr}${result.stdout}`);
  };
  test('docker compose config', (t) => run(t, ['docker-compose.yml']));
  test('docker compose config with the cluster file', (t) => run(t, ['docker-compose.yml', CLUSTER_FILE]));
});

// ---------------------------------------------------------------------------------------------------
// The real Caddyfile, run by caddy, in front of the real services, where caddy is installed.

// Replicas listen on their compose PORT on addresses of their own in 127/8 (as containers have IPs of
// their own), so nothing here collides with another stack on 127.0.0.1.
const REPLICA_NET = `127.${randomInt(1, 255)}.${randomInt(0, 256)}`;

async function caddySkipReason(): Promise<string | false> {
  const found = spawnSync('caddy', ['version'], { encoding: 'utf8', timeout: 15_000 });
  if (found.status !== 0) return 'caddy is not installed here (apt-get install caddy), so the Caddyfile is only checked as text above';
  const bindable = await new Promise<boolean>((resolve) => {
    const probe = createNetServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, `${REPLICA_NET}.10`, () => probe.close(() => resolve(true)));
  });
  return bindable ? false : `this system does not route ${REPLICA_NET}.0/24 to loopback (only Linux does without aliases), so the replicas cannot get addresses of their own`;
}

type Replica = { service: AppService; host: string; child: ChildProcess; output(): string };

describe('docker compose: deploy/Caddyfile run by caddy in front of the services with the compose environment', { skip: await caddySkipReason() }, () => {
  const work = mkdtempSync(join(tmpdir(), 'compose-edge-'));
  const net = REPLICA_NET;
  const layout: Array<[AppService, number]> = [
    ['registration', 1],
    ['authorization', 1],
    ['token', 2],
    ['mcp-tools', 2],
    ['admin', 1],
  ];
  const user = { username: 'alice', password: `pw-${randomUUID()}` };
  let nats: NatsHandle;
  let dns: FakeDns;
  let caddy: ChildProcess | undefined;
  let caddyOutput = '';
  let publicUrl = '';
  const replicas: Replica[] = [];

  before(async () => {
    // Secured as the compose NATS is: each replica gets the credential its volume would hold.
    nats = await startNats({ secured: true });
    const proxyPort = await freePort();
    publicUrl = `http://127.0.0.1:${proxyPort}`;
    const vars = { PUBLIC_URL: publicUrl, SEED_USERS: `${user.username}:${user.password}`, LOG_LEVEL: 'info' };

    let host = 10;
    const records: Record<string, string[]> = {};
    for (const [name, count] of layout) {
      for (let i = 0; i < count; i++) {
        const address = `${net}.${host++}`;
        (records[name] ??= []).push(address);
        let output = '';
        const dataDir = join(work, `${name}-${i}`);
        const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services', name, 'src', 'main.ts')], {
          cwd: REPO_ROOT,
          // The stack's `nats` (its NATS_URL names that host) is this test's server.
          env: { PATH: process.env.PATH, ...containerEnv(name, vars), HOST: address, DATA_DIR: dataDir, NATS_URL: nats.url, NATS_CREDENTIALS_FILE: nats.credentials![name] },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        replicas.push({ service: name, host: address, child, output: () => output });
      }
    }
    await Promise.all(
      replicas.map(async (r) => {
        const port = environmentOf(r.service).PORT;
        await waitUntilAnswers(`http://${r.host}:${port}/readyz`, 30_000, () => r.child.exitCode !== null).catch((err) => {
          throw new Error(`${r.service} on ${r.host} did not become ready: ${String(err)}\n${r.output().slice(-3000)}`);
        });
      }),
    );

    dns = await startFakeDns(records);
    let listens = 0;
    let upstreams = 0;
    const caddyfile = CADDYFILE_TEXT.replace(/^:8080 \{$/m, () => {
      listens++;
      return `http://127.0.0.1:${proxyPort} {`;
    }).replace(/^(\s*)(dynamic a \S+ \d+ \{)$/gm, (_, indent: string, block: string) => {
      upstreams++;
      return `${indent}${block}\n${indent}\tresolvers ${dns.address}`;
    });
    assert.equal(listens, 1, 'the test moved the site to a free port');
    assert.equal(upstreams, 5, 'the test pointed the five upstreams at its DNS server');
    const file = join(work, 'Caddyfile');
    writeFileSync(file, caddyfile);
    caddy = spawn('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], {
      env: { PATH: process.env.PATH, HOME: work, XDG_DATA_HOME: work, XDG_CONFIG_HOME: work },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    caddy.stdout!.on('data', (chunk: Buffer) => (caddyOutput += chunk.toString()));
    caddy.stderr!.on('data', (chunk: Buffer) => (caddyOutput += chunk.toString()));
    await waitForPort(proxyPort, 15_000).catch((err) => {
      throw new Error(`caddy did not start: ${String(err)}\n${caddyOutput.slice(-3000)}`);
    });
  });

  after(async () => {
    const stop = (child: ChildProcess | undefined) =>
      new Promise<void>((resolve) => {
        if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    await Promise.all([stop(caddy), ...replicas.map((r) => stop(r.child))]);
    await dns?.stop();
    await nats?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** Which replicas logged the request with this id (every service logs each request with its id). */
  async function answeredBy(requestId: string): Promise<Replica[]> {
    const deadline = Date.now() + 3_000;
    for (;;) {
      const found = replicas.filter((r) => r.output().includes(`"requestId":"${requestId}"`));
      if (found.length > 0 || Date.now() > deadline) return found;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  test('the health check command of docker-compose.yml exits 0 for a ready service and 1 when nothing answers', () => {
    const [, , , script] = healthTest('token');
    const token = replicas.find((r) => r.service === 'token')!;
    const port = environmentOf('token').PORT!;
    const run = (host: string, p: string) =>
      spawnSync(process.execPath, ['-e', script!.replace('127.0.0.1', host)], { env: { PATH: process.env.PATH, PORT: p }, timeout: 15_000 }).status;
    assert.equal(run(token.host, port), 0);
    assert.equal(run(`${net}.250`, port), 1);
  });

  test('caddy routes every path to the service the compose stack expects', async () => {
    for (const [path, expected] of EDGE_ROUTES) {
      const id = `route-${randomUUID()}`;
      await fetch(`${publicUrl}${path}`, { headers: { 'X-Request-Id': id }, redirect: 'manual' }).then((r) => r.arrayBuffer());
      const services = [...new Set((await answeredBy(id)).map((r) => r.service))];
      assert.deepEqual(services, [expected], `${path} was answered by ${services.join(', ') || 'no service'}`);
    }
    const metrics = await fetch(`${publicUrl}/metrics`);
    assert.equal(metrics.status, 404, 'the edge answers /metrics itself');
  });

  test('caddy spreads requests over every replica of a scaled service', async () => {
    for (const [name, path] of [
      ['token', '/jwks.json'],
      ['mcp-tools', '/.well-known/oauth-protected-resource/mcp'],
    ] as const) {
      const counts = new Map<string, number>();
      for (let i = 0; i < 12; i++) {
        const id = `spread-${randomUUID()}`;
        const res = await fetch(`${publicUrl}${path}`, { headers: { 'X-Request-Id': id } });
        assert.equal(res.status, 200);
        await res.arrayBuffer();
        for (const r of await answeredBy(id)) counts.set(r.host, (counts.get(r.host) ?? 0) + 1);
      }
      const hosts = replicas.filter((r) => r.service === name).map((r) => r.host);
      for (const host of hosts) assert.ok((counts.get(host) ?? 0) >= 3, `${name} replica ${host} got ${counts.get(host) ?? 0} of 12 requests: ${JSON.stringify([...counts])}`);
    }
  });

  test('through the one origin: metadata, the 401 challenge, registration, sign-in, consent, tokens and a tool call', async () => {
    await checkStackThroughEdge(publicUrl, { user });
  });
});

/** A NATS image pinned to one version (no floating tag) that keeps acknowledged writes through a crash. */
function assertPinnedDurableNats(image: unknown): void {
  const version = /^nats:(\d+\.\d+\.\d+)(-alpine)?$/.exec(String(image))?.[1];
  assert.ok(version, `${String(image)} names one version of NATS`);
  assert.ok(isDurableNatsVersion(version), `${String(image)} is 2.10.23 or later`);
}
