import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '@mcp-auth/http';
import { authorizationConfigSchema } from '../src/config.ts';

describe('authorization configuration is refused at start when it cannot work', () => {
  test('SCOPES replaces the built-in catalogue, so default scopes must be named in it', () => {
    assert.throws(() => loadConfig(authorizationConfigSchema, { SCOPES: 'games:play=Play games' }), (err: unknown) => err instanceof ConfigError && /DEFAULT_SCOPES: not in SCOPES: profile notes:read/.test(err.message));
    const config = loadConfig(authorizationConfigSchema, { SCOPES: 'games:play=Play games,profile', DEFAULT_SCOPES: 'profile' });
    assert.deepEqual(config.SCOPES.map((s) => s.name), ['games:play', 'profile', 'offline_access'], 'offline_access is always in the catalogue');
    assert.deepEqual(config.DEFAULT_SCOPES, ['profile']);
    const named = loadConfig(authorizationConfigSchema, { SCOPES: 'offline_access=Keep going,profile', DEFAULT_SCOPES: 'profile' });
    assert.deepEqual(named.SCOPES, [{ name: 'offline_access', description: 'Keep going' }, { name: 'profile', description: 'profile' }], 'named by the operator, it keeps their description');
  });

  test('STRICT_SCOPES is off and OPTIONAL_SCOPES_PRESELECTED on unless set', () => {
    const config = loadConfig(authorizationConfigSchema, {});
    assert.equal(config.STRICT_SCOPES, false);
    assert.equal(config.OPTIONAL_SCOPES_PRESELECTED, true);
    const set = loadConfig(authorizationConfigSchema, { STRICT_SCOPES: 'true', OPTIONAL_SCOPES_PRESELECTED: 'false' });
    assert.equal(set.STRICT_SCOPES, true);
    assert.equal(set.OPTIONAL_SCOPES_PRESELECTED, false);
  });

  test('CLIENT_METADATA_ALLOW_PRIVATE_TARGETS is for development: refused unless the issuer is on loopback', () => {
    assert.throws(
      () => loadConfig(authorizationConfigSchema, { ISSUER: 'https://auth.example.com', CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: 'true' }),
      (err: unknown) => err instanceof ConfigError && /CLIENT_METADATA_ALLOW_PRIVATE_TARGETS: development only: ISSUER must be on loopback/.test(err.message),
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
