import assert from 'node:assert/strict';
import { KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeProtectedHeader, generateKeyPair, jwtVerify } from 'jose';
import { signAccessToken, type AccessTokenGrant } from '../src/signing/access-tokens.ts';

const grant: AccessTokenGrant = {
  issuer: 'http://127.0.0.1:3001',
  userId: 'user-1',
  clientId: 'client-1',
  resource: 'http://127.0.0.1:3000/mcp',
  scopes: ['notes:read', 'notes:write'],
  jti: 'jti-1',
  grantId: 'grant-1',
  issuedAt: Math.floor(Date.now() / 1000),
  expiresAt: Math.floor(Date.now() / 1000) + 600,
  streamPosition: 42,
};

for (const alg of ['ES256', 'EdDSA'] as const) {
  describe(`access tokens signed with ${alg}`, () => {
    it('verify with jose against the published public key, as every resource server checks them', async () => {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const token = signAccessToken({ kid: 'kid-1', alg, privateKey: KeyObject.from(privateKey), signsUntil: grant.expiresAt }, grant);

      const { payload, protectedHeader } = await jwtVerify(token, publicKey, { algorithms: [alg], typ: 'at+jwt', issuer: grant.issuer, audience: grant.resource });
      assert.deepEqual(protectedHeader, { alg, kid: 'kid-1', typ: 'at+jwt' });
      assert.equal(payload.sub, 'user-1');
      assert.equal(payload.scope, 'notes:read notes:write');
      assert.equal(payload.stream_position, 42);
    });

    it('a token whose claims were changed after signing does not verify', async () => {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const token = signAccessToken({ kid: 'kid-1', alg, privateKey: KeyObject.from(privateKey), signsUntil: grant.expiresAt }, grant);
      const [header, , signature] = token.split('.');
      const widened = Buffer.from(JSON.stringify({ ...grant, scope: 'notes:read notes:write admin' })).toString('base64url');

      await assert.rejects(jwtVerify(`${header}.${widened}.${signature}`, publicKey), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
      assert.equal(decodeProtectedHeader(token).alg, alg);
    });
  });
}
