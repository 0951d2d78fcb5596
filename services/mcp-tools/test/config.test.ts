import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '@mcp-auth/http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mcpToolsConfigSchema } from '../src/config.ts';
import { defaultCredentialsDir, stdioSettingsSchema } from '../src/stdio/settings.ts';
import { adoptStackFile } from '../src/stdio/stack-file.ts';

describe('mcp-tools configuration', () => {
  test('the benchmark switch that turns token checks off is refused unless the MCP URL is loopback', () => {
    assert.throws(
      () => loadConfig(mcpToolsConfigSchema, { UNSAFE_BENCHMARK_WITHOUT_AUTH: 'true', MCP_RESOURCE_URL: 'https://mcp.example.com/mcp', ISSUER: 'https://auth.example.com' }),
      (err: unknown) => err instanceof ConfigError && /UNSAFE_BENCHMARK_WITHOUT_AUTH/.test(err.message),
    );
    assert.throws(() => loadConfig(mcpToolsConfigSchema, { UNSAFE_BENCHMARK_WITHOUT_AUTH: 'true', HOST: '0.0.0.0' }), ConfigError, 'nor when it listens beyond this machine');
    assert.equal(loadConfig(mcpToolsConfigSchema, { UNSAFE_BENCHMARK_WITHOUT_AUTH: 'true', MCP_RESOURCE_URL: 'http://127.0.0.1:3000/mcp' }).UNSAFE_BENCHMARK_WITHOUT_AUTH, true);
    assert.equal(loadConfig(mcpToolsConfigSchema, {}).UNSAFE_BENCHMARK_WITHOUT_AUTH, false);
  });
});

describe('mcp-tools --stdio settings', () => {
  test('the stack file fills what the environment leaves unset, and only the deployment\'s keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stack-file-'));
    try {
      writeFileSync(join(dir, 'stack.json'), JSON.stringify({ MCP_RESOURCE_URL: 'http://localhost:4100/mcp', ISSUER: 'http://localhost:4101', NATS_URL: 'nats://127.0.0.1:4199', LOG_LEVEL: 'trace' }));
      const environment: NodeJS.ProcessEnv = { DATA_DIR: dir, ISSUER: 'http://auth.example', NATS_URL: '' };
      assert.deepEqual(adoptStackFile(environment), { file: join(dir, 'stack.json'), adopted: ['MCP_RESOURCE_URL', 'NATS_URL'] });
      assert.equal(environment.ISSUER, 'http://auth.example', 'the environment wins');
      assert.equal(environment.NATS_URL, 'nats://127.0.0.1:4199', 'an empty variable counts as unset');
      assert.equal(environment.LOG_LEVEL, undefined, 'a key that is not the deployment\'s is ignored');

      assert.deepEqual(adoptStackFile({ DATA_DIR: join(dir, 'nowhere') }).adopted, null, 'no stack file: the environment says it all');
      assert.throws(() => adoptStackFile({ STACK_FILE: join(dir, 'missing.json') }), /STACK_FILE .* does not exist/);
      writeFileSync(join(dir, 'broken.json'), '{"ISSUER": ');
      assert.throws(() => adoptStackFile({ STACK_FILE: join(dir, 'broken.json') }), /is not a stack file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a refresh token comes with its client, and an access token is refused with the way out', () => {
    assert.throws(() => loadConfig(stdioSettingsSchema, { STDIO_REFRESH_TOKEN: 'rt' }), /STDIO_CLIENT_ID: needed with STDIO_REFRESH_TOKEN/);
    assert.throws(() => loadConfig(stdioSettingsSchema, { MCP_ACCESS_TOKEN: 'eyJ' }), /MCP_ACCESS_TOKEN: .*STDIO_REFRESH_TOKEN/);
    assert.equal(loadConfig(stdioSettingsSchema, {}).STDIO_OPEN_BROWSER, true);
  });

  test('the credentials folder follows each platform\'s place for per-user state', () => {
    assert.equal(defaultCredentialsDir({ XDG_STATE_HOME: '/x/state' }, 'linux'), '/x/state/mcp-tools');
    assert.equal(defaultCredentialsDir({}, 'linux'), join(homedir(), '.local', 'state', 'mcp-tools'));
    assert.equal(defaultCredentialsDir({}, 'darwin'), join(homedir(), 'Library', 'Application Support', 'mcp-tools'));
  });
});
