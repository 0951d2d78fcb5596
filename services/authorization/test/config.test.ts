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

  test('CLIENT_METADATA_ALLOW_PRIVATE_TARGETS is for development: refused unless the issuer is on loopback', () => {
    assert.throws(
      () => loadConfig(authorizationConfigSchema, { ISSUER: 'https://auth.example.com', CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: 'true' }),
      (err: unknown) => err instanceof ConfigError && /CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: only for development, with a loopback ISSUER/.test(err.message),
    );
    assert.equal(loadConfig(authorizationConfigSchema, { ISSUER: 'http://127.0.0.1:3001', CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: 'true' }).CLIENT_METADATA_ALLOW_PRIVATE_TARGETS, true);
    assert.equal(loadConfig(authorizationConfigSchema, { ISSUER: 'https://auth.example.com' }).CLIENT_METADATA_ALLOW_PRIVATE_TARGETS, false);
  });

  test('the freshness bounds of client metadata documents must be in order', () => {
    assert.throws(
      () => loadConfig(authorizationConfigSchema, { CLIENT_METADATA_CACHE_MIN_SECONDS: '600', CLIENT_METADATA_CACHE_MAX_SECONDS: '60' }),
      (err: unknown) => err instanceof ConfigError && /CLIENT_METADATA_CACHE_MIN_SECONDS/.test(err.message),
    );
  });
});
