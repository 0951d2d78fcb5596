// The attack that made NATS a trust boundary, end to end on real processes: publish a SigningKeyPublished with
// your own key and an AuthorizationCodeRedeemed grant for alice, sign an at+jwt with that key, call /mcp as alice.
// And what a service does when it is not given the credential a secured NATS asks for.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { connect, nkeys } from '@nats-io/transport-node';
import { AuthorizationCodeRedeemed, SigningKeyPublished, newEvent, subjects, type EventEnvelope } from '@mcp-auth/contracts';
import { EventStore, natsClientOptions } from '@mcp-auth/event-store';
import {
  BrowserlessUser,
  REPO_ROOT,
  TEST_ADMIN_TOKEN,
  http,
  natsAccessOf,
  natsEnvOf,
  obtainTokens,
  registerPublicClient,
  startNats,
  startStack,
  type Json,
  type NatsHandle,
  type TestStack,
} from '@mcp-auth/testing';

const actor = { actor: { kind: 'service' as const, id: 'token' } };
const whoami = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };
const callMcp = (url: string, token: string) =>
  http(url, { method: 'POST', headers: { Authorization: `Bearer ${token}`, Accept: 'application/json, text/event-stream' }, json: whoami });

describe('the forged signing key attack, on a stack whose NATS is secured as npm start secures it', () => {
  let stack: TestStack;
  let alice: { userId: string; clientId: string };
  /** What a webhook subscribed to SigningKeyPublished receives: admin's fan-out reads the stream too. */
  const delivered: string[] = [];
  let receiver: Server;
  /** The kid of the key mcp-tools forged on its own subject. */
  let forgedKid = '';

  before(async () => {
    stack = await startStack({ mcpReplicas: 1, admin: { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' } });
    const client = await registerPublicClient(stack.urls);
    const tokens = await obtainTokens(stack.urls, new BrowserlessUser(stack.urls.issuer, 'alice', 'password123'), client);
    const claims = JSON.parse(Buffer.from((tokens.access_token as string).split('.')[1]!, 'base64url').toString()) as Json;
    alice = { userId: claims.sub, clientId: claims.client_id };
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        delivered.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hook = await http(`${stack.urls.admin}/admin/api/webhooks`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      json: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`, event_types: ['SigningKeyPublished'] },
    });
    assert.equal(hook.status, 201, hook.text);
  });
  after(async () => {
    receiver?.closeAllConnections();
    receiver?.close();
    await stack?.stop();
  });

  /** The attacker's key and grant for alice, as events, and a token signed with that key for a stream position. */
  async function forgery() {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const kid = `attacker-${randomUUID()}`;
    const now = Math.floor(Date.now() / 1000);
    const grantId = `grant-${randomUUID()}`;
    const jti = randomUUID();
    const codeHash = randomBytes(32).toString('base64url');
    const key = newEvent(SigningKeyPublished, { kid, alg: 'ES256', publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }, signsUntil: now + 3600, retireAfter: now + 7200 }, actor);
    const grant = newEvent(
      AuthorizationCodeRedeemed,
      {
        codeHash,
        grantId,
        clientId: alice.clientId,
        userId: alice.userId,
        resource: stack.urls.resource,
        scopes: ['profile', 'notes:read'],
        consentId: `consent-${randomUUID()}`,
        refreshTokenHash: randomBytes(32).toString('base64url'),
        accessTokenJti: jti,
        accessTokenExpiresAt: now + 600,
        grantExpiresAt: now + 86_400,
      },
      actor,
    );
    const sign = (streamPosition: number) =>
      new SignJWT({ client_id: alice.clientId, scope: 'profile notes:read', jti, grant_id: grantId, stream_position: streamPosition })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
        .setIssuer(stack.urls.issuer)
        .setSubject(alice.userId)
        .setAudience(stack.urls.resource)
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey);
    return { kid, codeHash, key, grant, sign };
  }

  const appendAll = async (store: EventStore, placed: Array<[string, EventEnvelope]>) => {
    let position = 0;
    for (const [subject, event] of placed) position = (await store.append(subject, event)).position;
    return position;
  };

  test('anonymous: NATS refuses the connection', async () => {
    await assert.rejects(connect({ servers: stack.nats.url }), /Authorization Violation/i);
  });

  test("as the mcp-tools identity: refused on the token context's subjects; written on its own, never believed; /mcp answers 401", async () => {
    const { kid, codeHash, key, grant, sign } = await forgery();
    forgedKid = kid;
    const mcp = await EventStore.connect({ servers: stack.nats.url, connectionName: 'attacker', ...natsAccessOf(stack.nats, 'mcp-tools') });
    const operator = await EventStore.connect({ servers: stack.nats.url, connectionName: 'inspector', ...natsAccessOf(stack.nats, 'operator') });
    try {
      await assert.rejects(mcp.append(subjects.signingKey(kid), key), /Permissions Violation/i);
      await assert.rejects(mcp.append(subjects.authorizationCode(codeHash), grant), /Permissions Violation/i);
      assert.equal(await operator.last(subjects.signingKey(kid)), null, 'no key was stored');
      assert.equal(await operator.last(subjects.authorizationCode(codeHash)), null, 'no grant was stored');

      // Its own subjects take any payload: the types are the token context's, so no projector applies them.
      const keyNote = subjects.note(`forged-key-${randomUUID()}`);
      const grantNote = subjects.note(`forged-grant-${randomUUID()}`);
      const position = await appendAll(mcp, [
        [keyNote, key],
        [grantNote, grant],
      ]);
      assert.equal((await operator.last(keyNote))?.outcome.kind, 'misplaced', 'an authoritative read does not believe it either');
      const answer = await callMcp(stack.urls.mcp, await sign(position));
      assert.equal(answer.status, 401, answer.text);
      assert.match(answer.headers.get('www-authenticate') ?? '', /invalid_token/);
      const jwks = await http(`${stack.urls.token}/jwks.json`);
      assert.ok(!(jwks.json!.keys as Json[]).some((k) => k.kid === kid), 'the token service does not publish the key');

      const mcpTools = stack.mcp[0]!;
      const db = new Database(join(mcpTools.dataDir, 'mcp-tools.sqlite'), { readonly: true });
      try {
        // Another connection sees the projection as committed: its group commit follows the events by a moment.
        const read = () => db.prepare('SELECT type, reason FROM projector_skipped_events WHERE position > ? ORDER BY position').all(position - 2) as Json[];
        let skipped = read();
        for (let tries = 0; skipped.length < 2 && tries < 40; tries++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          skipped = read();
        }
        assert.deepEqual(
          skipped.map((s) => [s.type, s.reason]),
          [
            ['SigningKeyPublished', `SigningKeyPublished does not belong on ${keyNote}`],
            ['AuthorizationCodeRedeemed', `AuthorizationCodeRedeemed does not belong on ${grantNote}`],
          ],
        );
      } finally {
        db.close();
      }
      const warning = /"type":"SigningKeyPublished","subject":"events\.mcp\.note\.forged-key-[^"]+","msg":"skipping an event whose type does not belong to the subject it was written on"/;
      for (let tries = 0; !warning.test(mcpTools.output()) && tries < 40; tries++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.match(mcpTools.output(), warning);
    } finally {
      await mcp.close();
      await operator.close();
    }
  });

  test('the same forgery written where it belongs (only the operator may) is believed: the log is the trust root', async () => {
    const { kid, codeHash, key, grant, sign } = await forgery();
    const operator = await EventStore.connect({ servers: stack.nats.url, connectionName: 'operator', ...natsAccessOf(stack.nats, 'operator') });
    try {
      const position = await appendAll(operator, [
        [subjects.signingKey(kid), key],
        [subjects.authorizationCode(codeHash), grant],
      ]);
      const answer = await callMcp(stack.urls.mcp, await sign(position));
      assert.equal(answer.status, 200, answer.text);
      assert.match(answer.text, /alice/);
      // Admin's webhook fan-out, which reads the stream in order, delivered this key, and not the forged one before it.
      for (let i = 0; i < 100 && !delivered.some((body) => body.includes(kid)); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(delivered.some((body) => body.includes(kid)), 'the key the operator published is delivered');
      assert.ok(forgedKid !== '' && !delivered.some((body) => body.includes(forgedKid)), 'the forged key on events.mcp.note was not delivered');
    } finally {
      await operator.close();
    }
  });
});

describe('a service and a secured NATS that it has no credential for', () => {
  let nats: NatsHandle;
  before(async () => {
    nats = await startNats({ secured: true });
  });
  after(async () => nats?.stop());

  /** Runs a service to its exit (it must exit by itself within the time), with only the given NATS settings. */
  function runToExit(env: Record<string, string>, timeoutMs = 10_000): Promise<{ code: number | null; stderr: string; ms: number }> {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services', 'registration', 'src', 'main.ts')], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: '0', DATA_DIR: join(nats.credentials!.operator, '..', `data-${randomUUID()}`), ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`still running after ${timeoutMs} ms:\n${stderr}`));
      }, timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr, ms: Date.now() - started });
      });
    });
  }

  test('without NATS_CREDENTIALS_FILE it exits within seconds, code 2, with one line naming the variable', async () => {
    const { code, stderr, ms } = await runToExit({ NATS_URL: nats.url });
    assert.equal(code, 2);
    assert.equal(stderr, "registration: NATS refused the connection (authorization violation): set NATS_CREDENTIALS_FILE to this service's credential\n");
    assert.ok(ms < 8_000, `${ms} ms`);
  });

  test('with a credential NATS does not know, or a file that is no credential, the line says which file', async () => {
    const dir = join(nats.credentials!.operator, '..');
    const stranger = join(dir, 'stranger.nk');
    writeFileSync(stranger, `${new TextDecoder().decode(nkeys.createUser().getSeed())}\n`, { mode: 0o600 });
    const unknown = await runToExit({ NATS_URL: nats.url, NATS_CREDENTIALS_FILE: stranger });
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, `registration: NATS refused the connection (authorization violation): NATS_CREDENTIALS_FILE (${stranger}) is not a credential this NATS accepts\n`);
    const garbage = join(dir, 'garbage.nk');
    writeFileSync(garbage, 'not a seed\n', { mode: 0o600 });
    const bad = await runToExit({ NATS_URL: nats.url, NATS_CREDENTIALS_FILE: garbage });
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, `registration: NATS_CREDENTIALS_FILE (${garbage}) holds neither an nkey user seed (SU…) nor a .creds file\n`);
  });

  test('with its credential but no stream (the setup step has not run), it waits for it, saying to run the setup step', async () => {
    const operator = await connect({ servers: nats.url, name: 'operator', ...natsClientOptions(natsAccessOf(nats, 'operator')) });
    try {
      const deleted = await operator.request('$JS.API.STREAM.DELETE.EVENTS', '', { timeout: 2_000 });
      assert.match(new TextDecoder().decode(deleted.data), /"success":true/);
    } finally {
      await operator.close();
    }
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services', 'registration', 'src', 'main.ts')], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: '0', DATA_DIR: join(nats.credentials!.operator, '..', `data-${randomUUID()}`), ...natsEnvOf(nats, 'registration') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const deadline = Date.now() + 15_000;
      while (!output.includes('run the NATS setup step') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.match(output, /stream EVENTS does not exist on this NATS, and this identity may not create it: run the NATS setup step, `node dist\/nats-setup\.mjs streams`/);
      assert.equal(child.exitCode, null, 'it waits for the stream rather than exiting');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
