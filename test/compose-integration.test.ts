// The docker compose stack for real, where a Docker engine is reachable: testcontainers builds the
// image and runs `docker compose up` with token and mcp-tools scaled to two replicas each, waits for
// every container's health check, and then everything is checked from the outside, through the one
// public origin. Where Docker is not reachable the tests are reported as skipped, with the reason.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DockerComposeEnvironment, Wait, type StartedDockerComposeEnvironment } from 'testcontainers';
import { REPO_ROOT, freePort } from '@mcp-auth/testing';
import { checkStackThroughEdge } from './compose-edge.ts';

const SCALE = { token: 2, 'mcp-tools': 2 } as const;
// Building the image from nothing (npm ci, a native module) can take a while on a cold machine.
const STARTUP_TIMEOUT_MS = 15 * 60_000;

/** Why the stack cannot run here, or false when it can: the engine must answer, and compose must exist. */
function dockerUnavailable(): string | false {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 10_000 });
  if ((info.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return 'no docker CLI on this machine';
  if (info.error) return `\`docker info\` did not answer: ${info.error.message}`;
  if (info.status !== 0) return `no Docker engine is reachable (\`docker info\`: ${(info.stderr || info.stdout).trim().split('\n')[0]})`;
  const remote = /^(tcp|ssh|https?):\/\/(?!(localhost|127\.0\.0\.1)[:/]|$)/.exec(process.env.DOCKER_HOST ?? '');
  if (remote) return `DOCKER_HOST (${process.env.DOCKER_HOST}) is another machine, where the proxy's port is published, not here`;
  const compose = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8', timeout: 10_000 });
  if (compose.status !== 0) return `Docker ${info.stdout.trim()} is reachable but the compose plugin is not (\`docker compose version\` failed)`;
  return false;
}

/**
 * compose reads its variables from this process's environment: a NATS_URL or LOG_LEVEL set for other
 * tests must not reach the stack. An empty value counts as unset, both for ${VAR:-default} and for the
 * services (they ignore empty variables).
 */
function composeVariablesCleared(): Record<string, string> {
  const text = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
  const names = new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
  // Keys without a value are passed through from the environment.
  for (const m of text.matchAll(/^\s+([A-Z_][A-Z0-9_]*):\s*$/gm)) names.add(m[1]!);
  return Object.fromEntries([...names].map((name) => [name, '']));
}

const unavailable = dockerUnavailable();
const TITLE = 'docker compose up: the stack as users run it (built, scaled, behind the proxy)';

if (unavailable) {
  // One test, reported as skipped with the reason (`# SKIP ...`) and counted as skipped.
  test(TITLE, { skip: `${unavailable}, so the compose stack cannot be started here` }, () => {});
} else describe(TITLE, () => {
  let stack: StartedDockerComposeEnvironment | undefined;
  let publicUrl = '';
  const user = { username: 'alice', password: `pw-${randomUUID()}` };

  before(
    async () => {
      // The public origin is a free port on this machine, published by the proxy and named in every
      // service's configuration, exactly as a user would set PUBLIC_URL and PUBLIC_PORT.
      const port = await freePort();
      publicUrl = `http://127.0.0.1:${port}`;
      stack = await new DockerComposeEnvironment(REPO_ROOT, 'docker-compose.yml')
        .withBuild()
        .withEnvironment({
          ...composeVariablesCleared(),
          PUBLIC_URL: publicUrl,
          PUBLIC_PORT: String(port),
          SEED_USERS: `${user.username}:${user.password}`,
        })
        .withClientOptions({ commandOptions: Object.entries(SCALE).flatMap(([name, n]) => ['--scale', `${name}=${n}`]) })
        .withDefaultWaitStrategy(Wait.forHealthCheck())
        // The NATS credentials and the streams are made by one-shot containers, which have no health check: they exit 0.
        .withWaitStrategy('nats-credentials-1', Wait.forOneShotStartup())
        .withWaitStrategy('nats-streams-1', Wait.forOneShotStartup())
        .withStartupTimeout(STARTUP_TIMEOUT_MS)
        .up();
    },
    { timeout: STARTUP_TIMEOUT_MS + 60_000 },
  );

  after(
    async () => {
      await stack?.down({ removeVolumes: true });
    },
    { timeout: 120_000 },
  );

  test('every container is up and healthy, with the scaled replicas', () => {
    for (const name of ['nats-1', 'registration-1', 'authorization-1', 'proxy-1']) assert.ok(stack!.getContainer(name), name);
    for (const [name, n] of Object.entries(SCALE)) {
      for (let i = 1; i <= n; i++) assert.ok(stack!.getContainer(`${name}-${i}`), `${name}-${i}`);
    }
  });

  test('from the outside: issuer metadata, the 401 challenge, registration, and a whole flow with a tool call', async () => {
    await checkStackThroughEdge(publicUrl, { user });
  });

  test('the proxy spreads requests over every replica of token and mcp-tools', async () => {
    const paths = { token: '/jwks.json', 'mcp-tools': '/.well-known/oauth-protected-resource/mcp' } as const;
    const servedBy = async (container: string, route: string) => {
      // Each replica counts its requests by route in /metrics (not published through the edge).
      const { output, exitCode } = await stack!
        .getContainer(container)
        .exec(['node', '-e', "fetch('http://127.0.0.1:'+process.env.PORT+'/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))"]);
      assert.equal(exitCode, 0, output);
      const line = output.split('\n').find((l) => l.startsWith('http_requests_total{') && l.includes(`route="${route}"`) && l.includes('method="GET"') && l.includes('status="200"'));
      return Number(line?.split(' ').at(-1) ?? 0);
    };
    for (const [name, path] of Object.entries(paths)) {
      const replicas = SCALE[name as keyof typeof SCALE];
      const before = await Promise.all(Array.from({ length: replicas }, (_, i) => servedBy(`${name}-${i + 1}`, path)));
      for (let i = 0; i < 10 * replicas; i++) {
        const res = await fetch(`${publicUrl}${path}`);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
      const afterwards = await Promise.all(Array.from({ length: replicas }, (_, i) => servedBy(`${name}-${i + 1}`, path)));
      afterwards.forEach((count, i) => assert.ok(count - before[i]! >= 3, `${name}-${i + 1} served ${count - before[i]!} of ${10 * replicas} requests`));
    }
  });
});
