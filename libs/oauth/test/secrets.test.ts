import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashSecret, randomToken, secretMatchesHash } from '../src/secrets.ts';

describe('randomToken', () => {
  it('gives the asked number of random bytes, base64url, never the same twice across pool refills', () => {
    const seen = new Set<string>();
    // 2,000 tokens of 32 bytes draw the 4 KiB pool about sixteen times.
    for (let i = 0; i < 2_000; i++) {
      const token = randomToken();
      assert.match(token, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(token, 'base64url').length, 32);
      assert.ok(!seen.has(token), 'a repeated token');
      seen.add(token);
    }
    assert.equal(Buffer.from(randomToken(16), 'base64url').length, 16);
    assert.equal(Buffer.from(randomToken(4096), 'base64url').length, 4096);
    assert.throws(() => randomToken(4097), RangeError);
  });

  it('uses every bit: across many tokens each byte position takes many values', () => {
    const values = Array.from({ length: 32 }, () => new Set<number>());
    for (let i = 0; i < 500; i++) Buffer.from(randomToken(), 'base64url').forEach((byte, at) => values[at]!.add(byte));
    // A position stuck at zero (a zeroed slice handed out again) would show a single value.
    for (const seen of values) assert.ok(seen.size > 150, `only ${seen.size} distinct values at a position`);
  });
});

describe('hashed secrets', () => {
  it('match their own hash only', () => {
    const secret = randomToken();
    assert.ok(secretMatchesHash(secret, hashSecret(secret)));
    assert.ok(!secretMatchesHash(randomToken(), hashSecret(secret)));
    assert.ok(!secretMatchesHash(secret, 'short'));
  });
});
