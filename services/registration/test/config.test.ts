import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '@mcp-auth/http';
import { registrationConfigSchema } from '../src/config.ts';

describe('registration configuration', () => {
  test('a registration body limit the parser cannot read is refused instead of silently lifting the limit', () => {
    assert.throws(() => loadConfig(registrationConfigSchema, { REGISTRATION_MAX_BODY: 'lots' }), ConfigError);
    assert.equal(loadConfig(registrationConfigSchema, { REGISTRATION_MAX_BODY: '1mb' }).REGISTRATION_MAX_BODY, '1mb');
    assert.equal(loadConfig(registrationConfigSchema, {}).REGISTRATION_MAX_BODY, '64kb');
  });
});
