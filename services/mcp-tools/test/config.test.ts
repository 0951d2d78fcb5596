import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '@mcp-auth/http';
import { mcpToolsConfigSchema } from '../src/config.ts';

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
