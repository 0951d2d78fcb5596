import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  BrowserlessUser,
  authorizationUrl,
  http,
  pkcePair,
  registerPublicClient,
  startStack,
  type HttpAnswer,
  type Json,
  type TestStack,
} from '@mcp-auth/testing';

/** Long enough for a burst of 20 parallel refreshes on a busy 2-core machine (they must all land inside it), short enough to wait out. */
const GRACE_SECONDS = 2;
const MAX_GRACE_RETRIES = 5;
const RS = { id: 'rs', secret: 'rs-secret-0123456789abcdef' };

let stack: TestStack;
let alice: BrowserlessUser;
/** The two token replicas under test; replicas[i % 2] spreads requests over both. */
let replicas: string[];

function sane(res: HttpAnswer, what: string): HttpAnswer {
  assert.ok(res.status < 500, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  return res;
}

const post = async (base: string, path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
  sane(await http(`${base}${path}`, { method: 'POST', form, headers }), `POST ${base}${path}`);

const introspect = (base: string, token: string) =>
  post(base, '/introspect', { token }, { Authorization: `Basic ${Buffer.from(`${RS.id}:${RS.secret}`).toString('base64')}` });

async function authorize(client: Json): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkcePair();
  const query = await alice.authorize(authorizationUrl(stack.urls.issuer, { clientId: client.client_id, redirectUri: client.redirect_uris[0], challenge, resource: stack.urls.resource }));
  const code = query.get('code');
  assert.ok(code, `authorization failed: ${query}`);
  return { code, verifier };
}

function exchange(base: string, client: Json, a: { code: string; verifier: string }) {
  return post(base, '/token', {
    grant_type: 'authorization_code',
    code: a.code,
    redirect_uri: client.redirect_uris[0],
    code_verifier: a.verifier,
    client_id: client.client_id,
    resource: stack.urls.resource,
  });
}

const refresh = (base: string, client: Json, token: string) => post(base, '/token', { grant_type: 'refresh_token', refresh_token: token, client_id: client.client_id });

async function obtain(client: Json, base = replicas[0]!): Promise<Json> {
  const res = await exchange(base, client, await authorize(client));
  assert.equal(res.status, 200, res.text);
  return res.json!;
}

function isInvalidGrant(res: HttpAnswer): boolean {
  return res.status === 400 && res.json?.error === 'invalid_grant';
}

/** Polls until `check` holds (a replica's projection applying an event another replica wrote); fails after `ms`. */
async function eventually(what: string, check: () => Promise<boolean>, ms = 2_000): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > ms) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
  return performance.now() - started;
}

describe('two token replicas on one NATS', () => {
  before(async () => {
    stack = await startStack({
      tokenReplicas: 2,
      serviceEnv: { token: { REFRESH_GRACE_SECONDS: String(GRACE_SECONDS), REFRESH_GRACE_MAX_RETRIES: String(MAX_GRACE_RETRIES), INTROSPECTION_CREDENTIALS: `${RS.id}:${RS.secret}` } },
      mcpReplicas: 0,
    });
    replicas = stack.tokens.map((t) => t.url);
    alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
  });
  after(async () => {
    await stack?.stop();
  });

  test('50 parallel redemptions of one code over both replicas: exactly one 200, 49 invalid_grant, and the winner’s tokens revoked', async (t) => {
    for (let round = 1; round <= 3; round++) {
      const client = await registerPublicClient(stack.urls);
      const a = await authorize(client);
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => exchange(replicas[i % 2]!, client, a)));
      const winners = answers.filter((r) => r.status === 200);
      const losers = answers.filter(isInvalidGrant);
      assert.equal(winners.length, 1, `round ${round}: ${answers.map((r) => r.status).join(',')}`);
      assert.equal(losers.length, 49, `round ${round}: ${answers.filter((r) => r.status !== 200 && !isInvalidGrant(r)).map((r) => r.text).join(' | ')}`);
      const won = winners[0]!.json!;
      t.diagnostic(`round ${round}: the winner answered from ${answers.indexOf(winners[0]!) % 2 === 0 ? 'replica A' : 'replica B'}`);

      // RFC 9700 §4.2.4: a code used twice revokes what the first use obtained — on both replicas.
      for (const base of replicas) {
        const r = await refresh(base, client, won.refresh_token);
        assert.ok(isInvalidGrant(r), `refresh with the winner's token at ${base}: ${r.status} ${r.text}`);
      }
      for (const base of replicas) {
        await eventually(`introspection of the winner's access token at ${base}`, async () => (await introspect(base, won.access_token)).json?.active === false, 1_000);
      }
    }
  });

  test('20 parallel refreshes of one refresh token: one rotation plus bounded grace siblings, no forked family, and reuse after the window revokes the grant', async (t) => {
    /** One family: a burst of 20 refreshes of its first refresh token, over both replicas. */
    const burst = async () => {
      const client = await registerPublicClient(stack.urls);
      const first = await obtain(client);
      const started = performance.now();
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => refresh(replicas[i % 2]!, client, first.refresh_token)));
      const ms = performance.now() - started;
      const odd = answers.filter((r) => r.status !== 200 && !isInvalidGrant(r));
      assert.deepEqual(odd.map((r) => `${r.status} ${r.text}`), [], 'every answer is 200 or invalid_grant');
      const ok = answers.filter((r) => r.status === 200).map((r) => r.json!);
      assert.ok(ok.length >= 1 && ok.length <= 1 + MAX_GRACE_RETRIES, `${ok.length} rotations out of 20`);
      assert.ok(ms < GRACE_SECONDS * 1000, `the burst took ${Math.round(ms)} ms, longer than the grace window it relies on`);
      t.diagnostic(`burst: ${ok.length} × 200 (1 rotation + ${ok.length - 1} grace siblings), ${20 - ok.length} × invalid_grant, ${Math.round(ms)} ms`);
      const grantId = decodeJwt(first.access_token).grant_id;
      for (const o of ok) assert.equal(decodeJwt(o.access_token).grant_id, grantId, 'every rotation stays in the grant');
      assert.equal(new Set(ok.map((o) => o.refresh_token)).size, ok.length, 'distinct refresh tokens');
      return { client, first, siblings: ok.map((o) => o.refresh_token as string) };
    };
    const a = await burst();
    const b = await burst();

    for (const family of [a, b]) {
      // No fork: every token handed out is a current sibling of one generation; the original is spent.
      for (const [i, token] of family.siblings.entries()) {
        assert.equal((await introspect(replicas[i % 2]!, token)).json!.active, true, `sibling ${i} is current`);
      }
      assert.equal((await introspect(replicas[0]!, family.first.refresh_token)).json!.active, false, 'the original is spent');
    }
    // Family A, inside the window: the original again is a retry — one more sibling if the bound allows, else
    // refused — but not reuse: the grant stays alive.
    const retried = await refresh(replicas[1]!, a.client, a.first.refresh_token);
    if (a.siblings.length < 1 + MAX_GRACE_RETRIES) {
      assert.equal(retried.status, 200, retried.text);
      a.siblings.push(retried.json!.refresh_token);
    } else {
      assert.ok(isInvalidGrant(retried), `over the bound: ${retried.text}`);
    }
    assert.equal((await introspect(replicas[0]!, a.siblings[0]!)).json!.active, true, 'a retry inside the window does not revoke the grant');

    // Family B: using one sibling spends all of them; the family moves on as one.
    const nextB = await refresh(replicas[0]!, b.client, b.siblings[0]!);
    assert.equal(nextB.status, 200, nextB.text);
    // Introspection answers from the replica's projection: the other replica learns of the rotation within ms.
    for (const token of b.siblings.slice(1)) {
      await eventually('a sibling spent with its generation, on the other replica', async () => (await introspect(replicas[1]!, token)).json?.active === false, 1_000);
    }
    assert.equal((await introspect(replicas[1]!, nextB.json!.refresh_token)).json!.active, true);

    await sleep(GRACE_SECONDS * 1000 + 300);

    // Family A, after the window: the original token is reuse. The grant is revoked: even the newest tokens are refused.
    assert.ok(isInvalidGrant(await refresh(replicas[0]!, a.client, a.first.refresh_token)), 'reuse of the original');
    for (const [i, sibling] of a.siblings.entries()) {
      assert.ok(isInvalidGrant(await refresh(replicas[i % 2]!, a.client, sibling)), `sibling ${i} of a revoked grant`);
    }
    for (const base of replicas) {
      await eventually(`A's access token at ${base}`, async () => (await introspect(base, a.first.access_token)).json?.active === false, 1_000);
    }

    // Family B, after the window: a sibling the family already moved past is reuse as well.
    if (b.siblings.length >= 2) {
      assert.ok(isInvalidGrant(await refresh(replicas[1]!, b.client, b.siblings[1]!)), 'reuse of a spent sibling');
    } else {
      t.diagnostic('family B got no grace sibling; its original token plays the spent sibling');
      assert.ok(isInvalidGrant(await refresh(replicas[1]!, b.client, b.first.refresh_token)));
    }
    for (const base of replicas) assert.ok(isInvalidGrant(await refresh(base, b.client, nextB.json!.refresh_token)), `B's newest token at ${base}`);
    for (const base of replicas) {
      await eventually(`B's newest access token at ${base}`, async () => (await introspect(base, nextB.json!.access_token)).json?.active === false, 1_000);
    }
  });

  test('a flow whose every step alternates between the replicas works, with no spurious error', async (t) => {
    let worstLag = 0;
    for (let i = 0; i < 10; i++) {
      const [x, y] = i % 2 ? [replicas[0]!, replicas[1]!] : [replicas[1]!, replicas[0]!];
      const client = await registerPublicClient(stack.urls);
      const tokens = await obtain(client, x);
      const r1 = await refresh(y, client, tokens.refresh_token);
      assert.equal(r1.status, 200, r1.text);
      const r2 = await refresh(x, client, r1.json!.refresh_token);
      assert.equal(r2.status, 200, r2.text);
      assert.equal((await introspect(y, r2.json!.access_token)).json!.active, true);
      assert.equal((await introspect(x, r2.json!.refresh_token)).json!.active, true);
      // Revoking on one replica: a refresh on the other is refused at once (the write is exclusive on the grant)…
      const revoked = await post(y, '/revoke', { token: r2.json!.refresh_token, client_id: client.client_id });
      assert.equal(revoked.status, 200);
      assert.ok(isInvalidGrant(await refresh(x, client, r2.json!.refresh_token)), 'refresh after revocation on the other replica');
      // …and introspection there follows within milliseconds.
      worstLag = Math.max(worstLag, await eventually('introspection after revocation on the other replica', async () => (await introspect(x, r2.json!.access_token)).json?.active === false, 500));
    }
    t.diagnostic(`worst introspection lag after a revocation on the other replica: ${worstLag.toFixed(1)} ms`);
  });

  test('1,000 sequential full flows (register, authorize through the forms, token) with zero errors', async (t) => {
    const flows = 1_000;
    const errors: string[] = [];
    const started = performance.now();
    for (let i = 0; i < flows; i++) {
      try {
        const client = await registerPublicClient(stack.urls, { client_name: `flow ${i}` });
        const a = await authorize(client);
        const res = await exchange(replicas[i % 2]!, client, a);
        if (res.status !== 200 || typeof res.json?.access_token !== 'string') errors.push(`flow ${i}: ${res.status} ${res.text.slice(0, 200)}`);
      } catch (err) {
        errors.push(`flow ${i}: ${String(err).slice(0, 400)}`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`${flows} flows in ${seconds.toFixed(1)} s (${(flows / seconds).toFixed(0)} flows/s, ${((seconds * 1000) / flows).toFixed(1)} ms each)`);
    assert.deepEqual(errors.slice(0, 10), []);
    assert.equal(errors.length, 0);
  });

  test('signing keys: a token signed by a replica that stopped still verifies against a new replica’s /jwks.json', async () => {
    const client = await registerPublicClient(stack.urls);
    const fromB = await obtain(client, replicas[1]!);
    const fromA = await obtain(client, replicas[0]!);
    const kidB = decodeProtectedHeader(fromB.access_token).kid;
    const kidA = decodeProtectedHeader(fromA.access_token).kid;
    assert.ok(kidA && kidB && kidA !== kidB, 'each replica signs with its own key');

    assert.equal(await stack.tokens[1]!.stop('SIGTERM'), 0, 'a clean stop');
    const fresh = await stack.addReplica('token', { REFRESH_GRACE_SECONDS: String(GRACE_SECONDS), INTROSPECTION_CREDENTIALS: `${RS.id}:${RS.secret}` });
    const fromNew = await obtain(client, fresh.url);
    const kidNew = decodeProtectedHeader(fromNew.access_token).kid;
    assert.ok(kidNew && kidNew !== kidB && kidNew !== kidA, 'the new replica made a key of its own');

    const keys = ((await http(`${fresh.url}/jwks.json`)).json!.keys as Json[]).map((k) => k.kid);
    for (const kid of [kidA, kidB, kidNew]) assert.ok(keys.includes(kid), `${kid} listed in ${keys.join(', ')}`);
    const jwks = createRemoteJWKSet(new URL(`${fresh.url}/jwks.json`));
    const verified = await jwtVerify(fromB.access_token, jwks, { issuer: stack.urls.issuer, audience: stack.urls.resource, typ: 'at+jwt' });
    assert.equal(verified.protectedHeader.kid, kidB);
    assert.equal((await introspect(fresh.url, fromB.access_token)).json!.active, true, 'the new replica honours the stopped one’s token');
    // The stopped replica's refresh tokens live on in the stream: the new replica rotates them.
    const r = await refresh(fresh.url, client, fromB.refresh_token);
    assert.equal(r.status, 200, r.text);
  });
});
