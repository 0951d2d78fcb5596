import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BrowserlessUser, REPO_ROOT, obtainTokens, registerPublicClient, startStack, type TestStack } from '@mcp-auth/testing';

/**
 * The official MCP conformance suite against /mcp on a running stack, through the endpoint users meet: the
 * suite's client sends no credential, so a loopback proxy adds a token obtained through the real OAuth flow
 * and forwards everything else (Host and Origin included) as it came.
 *
 * The suite needs Node 22; it runs on the binary of the npm package `node@22`, fetched once into .cache/ (never
 * the system's node). Without the registry the test fails, saying so: a conformance run that cannot run is not
 * a pass.
 */
const CONFORMANCE = '@modelcontextprotocol/conformance@0.1.16';
const NODE = 'node@22';
const TOOLS_DIR = join(REPO_ROOT, '.cache', 'mcp-conformance-0.1.16-node22');

/** Server scenarios this server is held to: it is stateless, serves tools over JSON, and guards Origin. */
const APPLICABLE = ['server-initialize', 'ping', 'tools-list', 'dns-rebinding-protection'];

/** Why each other server scenario of the suite does not apply. A scenario in neither list fails the test. */
const NOT_APPLICABLE: Array<[RegExp, string]> = [
  [/^logging-set-level$/, 'the server has no logging capability (logging/setLevel is -32601); logs go to its own log, not to clients'],
  [/^completion-complete$/, 'the server offers no completions (no prompts or resource templates to complete)'],
  [/^resources-/, 'the server offers no resources, only tools'],
  [/^prompts-/, 'the server offers no prompts, only tools'],
  [/^tools-call-/, "the scenario calls fixture tools the suite names (test_simple_text, test_image_content, …), which this server does not serve; its own tools' calls are tested end to end"],
  [/^json-schema-2020-12$/, 'the scenario looks for a fixture tool the suite names (json_schema_2020_12_tool)'],
  [/^elicitation-/, 'the scenarios call fixture tools that elicit input from the user; no tool of this server elicits'],
  [/^server-sse-/, 'the server is stateless and answers JSON: no SSE stream to poll or resume, GET is 405'],
];

describe('the MCP conformance suite against /mcp on a running stack', () => {
  let bin: string;
  let stack: TestStack;
  let proxy: Server;
  let url: string;

  before(async () => {
    bin = conformanceTools();
    stack = await startStack();
    const alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
    const tokens = await obtainTokens(stack.urls, alice, await registerPublicClient(stack.urls));
    proxy = await bearerProxy(new URL(stack.urls.mcp), tokens.access_token as string);
    url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}${new URL(stack.urls.mcp).pathname}`;
  });
  after(async () => {
    proxy?.closeAllConnections();
    proxy?.close();
    await stack?.stop();
  });

  test('every server scenario of the suite is either run here or named as not applicable, with the reason', async (t) => {
    const listed = await run(bin, ['list', '--server']);
    assert.equal(listed.code, 0, listed.output);
    const scenarios = [...listed.output.matchAll(/^\s*-\s+([a-z0-9-]+)\s/gm)].map((m) => m[1]!);
    assert.ok(scenarios.length > 0, `no scenarios listed:\n${listed.output}`);
    const unknown: string[] = [];
    for (const scenario of scenarios) {
      if (APPLICABLE.includes(scenario)) continue;
      const reason = NOT_APPLICABLE.find(([pattern]) => pattern.test(scenario))?.[1];
      if (reason) t.diagnostic(`not applicable: ${scenario}: ${reason}`);
      else unknown.push(scenario);
    }
    assert.deepEqual(unknown, [], 'scenarios this test neither runs nor explains');
    for (const scenario of APPLICABLE) assert.ok(scenarios.includes(scenario), `the suite no longer has ${scenario}`);
  });

  for (const scenario of APPLICABLE) {
    test(`scenario ${scenario} passes`, async () => {
      const outcome = await run(bin, ['server', '--url', url, '--scenario', scenario]);
      assert.equal(outcome.code, 0, `conformance server --scenario ${scenario} failed:\n${outcome.output}`);
      const summary = /Passed: (\d+)\/(\d+), (\d+) failed/.exec(outcome.output);
      assert.ok(summary && summary[1] === summary[2] && Number(summary[1]) > 0 && summary[3] === '0', outcome.output);
    });
  }
});

/**
 * The suite and the Node it needs, installed once into .cache/ (a temporary folder renamed into place, so an
 * interrupted install is never taken for a finished one). Returns the folder of their executables.
 */
function conformanceTools(): string {
  const bin = join(TOOLS_DIR, 'node_modules', '.bin');
  if (existsSync(join(bin, 'conformance')) && existsSync(join(bin, 'node'))) return bin;
  mkdirSync(join(REPO_ROOT, '.cache'), { recursive: true });
  const staging = mkdtempSync(`${TOOLS_DIR}.partial-`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  // npm's own cache first, and few retries: without a registry this fails within a minute, not after npm's backoff.
  const options = ['--prefer-offline', '--fetch-retries=1', '--fetch-retry-mintimeout=1000', '--fetch-retry-maxtimeout=5000', '--fetch-timeout=60000'];
  const installed = spawnSync(npm, ['install', '--prefix', staging, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', ...options, NODE, CONFORMANCE], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (installed.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(
      `could not fetch ${NODE} and ${CONFORMANCE} from the npm registry (the conformance suite needs them; nothing was skipped): ` +
        `${installed.error ? String(installed.error) : `npm exited with ${installed.status}`}\n${installed.stderr ?? ''}`,
    );
  }
  try {
    renameSync(staging, TOOLS_DIR);
  } catch {
    // Another run put it in place first.
    rmSync(staging, { recursive: true, force: true });
  }
  assert.ok(existsSync(join(bin, 'conformance')) && existsSync(join(bin, 'node')), `the install left no conformance and node in ${bin}`);
  return bin;
}

/** Runs the suite's CLI on Node 22: its folder comes first on PATH, so its `#!/usr/bin/env node` finds that node. */
function run(bin: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(bin, 'conformance'), args, { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
    let output = '';
    // Without the terminal's colours, which the suite writes whatever NO_COLOR says.
    const read = (chunk: Buffer) => (output += chunk.toString('utf8').replace(/\x1b\[[0-9;]*m/g, ''));
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A loopback proxy to the MCP URL that adds the bearer token and changes nothing else. */
async function bearerProxy(target: URL, token: string): Promise<Server> {
  const server = createServer((req, res) => {
    const forwarded = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, authorization: `Bearer ${token}` } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
