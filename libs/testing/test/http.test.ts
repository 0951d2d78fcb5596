import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, http } from '@mcp-auth/testing';

test('a request nothing answers fails naming the request and the reason, not just "fetch failed"', async () => {
  const url = `http://127.0.0.1:${await freePort()}/authorize`;
  await assert.rejects(http(url), (err: Error) => {
    assert.match(err.message, new RegExp(`^GET ${url.replace(/[.]/g, '\\.')} failed: ECONNREFUSED`));
    return true;
  });
});
