import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { loadConfig, serviceConfig, trustedProxyHops } from '../src/config.ts';

const schema = z.object(serviceConfig(3000));
const hopsFrom = (env: Record<string, string>) => trustedProxyHops(loadConfig(schema, env));

describe('TRUSTED_PROXY_HOPS, and the TRUST_PROXY it replaces', () => {
  test('unset: no proxy, nothing to say', () => {
    assert.deepEqual(hopsFrom({}), { hops: 0, warning: null });
    assert.deepEqual(hopsFrom({ TRUST_PROXY: 'false' }), { hops: 0, warning: null });
  });

  test('TRUSTED_PROXY_HOPS is the number of appending proxies', () => {
    assert.deepEqual(hopsFrom({ TRUSTED_PROXY_HOPS: '0' }), { hops: 0, warning: null });
    assert.deepEqual(hopsFrom({ TRUSTED_PROXY_HOPS: '2' }), { hops: 2, warning: null });
  });

  test('TRUST_PROXY=true alone is one hop, with a warning; next to TRUSTED_PROXY_HOPS it is ignored, with a warning', () => {
    const legacy = hopsFrom({ TRUST_PROXY: 'true' });
    assert.equal(legacy.hops, 1);
    assert.match(legacy.warning ?? '', /TRUST_PROXY=true is read as TRUSTED_PROXY_HOPS=1/);
    const both = hopsFrom({ TRUST_PROXY: 'true', TRUSTED_PROXY_HOPS: '0' });
    assert.equal(both.hops, 0);
    assert.match(both.warning ?? '', /TRUST_PROXY is ignored/);
  });

  test('a negative, fractional or absurd number of hops is a configuration error', () => {
    for (const value of ['-1', '1.5', 'one', '17']) assert.throws(() => hopsFrom({ TRUSTED_PROXY_HOPS: value }), /TRUSTED_PROXY_HOPS/);
  });
});
