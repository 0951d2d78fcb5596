import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '@mcp-auth/http';
import { authorizationConfigSchema } from '../src/config.ts';

describe('authorization configuration is refused at start when it cannot work', () => {
  test('SCOPES replaces the built-in catalogue, so default scopes must be named in it', () => {
    assert.throws(() => loadConfig(authorizationConfigSchema, { SCOPES: 'games:play=Play games' }), (err: unknown) => err instanceof ConfigError && /DEFAULT_SCOPES: not in SCOPES: profile notes:read/.test(err.message));
    const config = loadConfig(authorizationConfigSchema, { SCOPES: 'games:play=Play games,profile', DEFAULT_SCOPES: 'profile' });
    assert.deepEqual(config.SCOPES.map((s) => s.name), ['games:play', 'profile']);
    assert.deepEqual(config.DEFAULT_SCOPES, ['profile']);
  });
});
