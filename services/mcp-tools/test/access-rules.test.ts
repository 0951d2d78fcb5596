import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bearerChallenge } from '../src/access/challenges.ts';
import { originPolicy } from '../src/access/origin-guard.ts';
import { mcpToolsConfigSchema } from '../src/config.ts';
import { protectedResourceMetadata, resourceMetadataUrl, resourceScopes } from '../src/protected-resource/metadata.ts';
import { ToolRegistry } from '../src/tools/registry.ts';
import { echo } from '../src/tools/built-in/echo.ts';

describe('origin policy (DNS-rebinding protection)', () => {
  const strict = originPolicy({ ownOrigins: ['https://mcp.example.com'], extraOrigins: ['https://app.example.net'], allowLoopback: false });
  const development = originPolicy({ ownOrigins: ['http://localhost:3000'], extraOrigins: [], allowLoopback: true });
  const cases: Array<[string, ReturnType<typeof originPolicy>, string | undefined, boolean]> = [
    ['no Origin (an agent, not a browser)', strict, undefined, true],
    ['its own origin', strict, 'https://mcp.example.com', true],
    ['a configured origin', strict, 'https://app.example.net', true],
    ['a foreign origin', strict, 'https://evil.example', false],
    ['the opaque origin null', strict, 'null', false],
    ['loopback when not in development', strict, 'http://localhost:6274', false],
    ['a look-alike', strict, 'https://mcp.example.com.evil.example', false],
    ['loopback in development (the MCP Inspector)', development, 'http://localhost:6274', true],
    ['127.0.0.1 in development', development, 'http://127.0.0.1:5173', true],
    ['[::1] in development', development, 'http://[::1]:8080', true],
    ['a remote origin in development', development, 'http://evil.example:6274', false],
    ['a loopback look-alike in development', development, 'http://localhost.evil.example', false],
  ];
  for (const [name, policy, origin, allowed] of cases) {
    test(`${allowed ? 'allows' : 'refuses'} ${name}`, () => assert.equal(policy(origin), allowed));
  }
});

describe('challenges and protected-resource metadata', () => {
  const config = mcpToolsConfigSchema.parse({ MCP_RESOURCE_URL: 'https://tools.example.com/mcp/', ISSUER: 'https://auth.example.com' });

  test('the metadata URL inserts the well-known segment before the resource path (RFC 9728 §3.1)', () => {
    assert.equal(config.MCP_RESOURCE_URL, 'https://tools.example.com/mcp', 'the canonical URL has no trailing slash');
    assert.equal(resourceMetadataUrl(config), 'https://tools.example.com/.well-known/oauth-protected-resource/mcp');
    assert.deepEqual(protectedResourceMetadata(config, []).authorization_servers, ['https://auth.example.com']);
  });

  test('the resource names every scope a served tool needs, with the defaults, in the catalogue\'s order, and nothing else', () => {
    const registry = new ToolRegistry();
    registry.add({ ...echo, name: 'writer', requiredScopes: ['notes:write'] });
    registry.add({ ...echo, name: 'outsider', requiredScopes: ['not:catalogued'] });
    const catalogue = mcpToolsConfigSchema.parse({ SCOPES: 'offline_access=Stay connected,notes:write=Write,profile=Who,notes:read=Read,admin=Unused' });
    assert.deepEqual(resourceScopes(catalogue, registry), ['notes:write', 'profile', 'notes:read']);
    assert.deepEqual(protectedResourceMetadata(catalogue, resourceScopes(catalogue, registry)).scopes_supported, ['notes:write', 'profile', 'notes:read']);
  });

  test('WWW-Authenticate carries error only when asked, and never breaks its quoting', () => {
    assert.equal(bearerChallenge({ resourceMetadata: 'https://m/.well-known/x', scope: ['a', 'b'] }), 'Bearer resource_metadata="https://m/.well-known/x", scope="a b"');
    assert.equal(
      bearerChallenge({ resourceMetadata: 'https://m', scope: [], error: 'invalid_token', description: 'bad "quote" \\ and\nnewline' }),
      'Bearer error="invalid_token", error_description="bad quote  and newline", resource_metadata="https://m"',
    );
  });
});

describe('tool registry (the operator module interface)', () => {
  test('refuses malformed definitions with a clear reason', () => {
    const registry = new ToolRegistry();
    registry.add(echo);
    assert.throws(() => registry.add(echo), /defined twice/);
    assert.throws(() => registry.add({ ...echo, name: 'bad name!' }), /letters, digits/);
    assert.throws(() => registry.add({ ...echo, name: 'x', requiredScopes: undefined as never }), /requiredScopes/);
    assert.throws(() => registry.add({ ...echo, name: 'y', inputSchema: { type: 'string' } as never }), /type "object"/);
  });

  test('validates arguments against the JSON Schema before a handler runs', () => {
    const registry = new ToolRegistry();
    registry.add(echo);
    const tool = registry.get('echo')!;
    assert.equal(tool.validate({ message: 'hi' }), true);
    assert.equal(tool.validate({ message: 1 }), false);
    assert.equal(tool.validate({ message: 'hi', extra: true }), false);
  });
});
