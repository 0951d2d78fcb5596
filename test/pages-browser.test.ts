// Every page a person reads, in a real browser (headless Chromium): sign-in, consent, connected apps and each
// page of the admin console, each screenshot into test-artifacts/ to be looked at, and what made them hard to
// read asserted away.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { s256 } from '@mcp-auth/oauth';
import {
  BrowserlessUser,
  REPO_ROOT,
  TEST_ADMIN_TOKEN,
  http,
  launchBrowserInBackground,
  obtainTokens,
  registerPublicClient,
  startRedirectReceiver,
  startStack,
  type BackgroundBrowser,
  type RedirectReceiver,
  type TestStack,
} from '@mcp-auth/testing';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

describe('the pages people read', () => {
  let stack: TestStack;
  let browser: BackgroundBrowser;
  let receiver: RedirectReceiver;
  let hooks: Server;
  let hookUrl: string;

  before(async () => {
    browser = launchBrowserInBackground();
    hooks = createServer((req, res) => {
      req.resume();
      res.statusCode = 204;
      res.end();
    });
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hooks`;
    receiver = await startRedirectReceiver();
    stack = await startStack({ admin: { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' } });
    mkdirSync(ARTIFACTS, { recursive: true });
    await browser.settled();
  });
  after(async () => {
    await browser?.close();
    await receiver?.close();
    await stack?.stop();
    await new Promise((resolve) => hooks?.close(resolve));
  });

  /** A page in a context of its own, watched for what nobody should meet: an error status (a 404 icon included) or a blocked resource. */
  async function freshPage(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await browser.get().newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400 && r.status() !== 401) problems.push(`${r.status()} ${r.url()}`);
    });
    page.on('console', (m) => {
      // The client's own redirect endpoint (the test's receiver) has no icon: not a page of ours.
      const ours = !receiver || !page.url().startsWith(`http://127.0.0.1:${receiver.port}/`);
      if (ours && m.type() === 'error' && !/status of 401/.test(m.text())) problems.push(`console: ${m.text()} (${page.url()})`);
    });
    return { context, page, problems };
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  test('/favicon.ico and the linked icon answer on every service that serves pages', async () => {
    for (const base of [stack.urls.issuer, stack.urls.admin]) {
      const ico = await fetch(`${base}/favicon.ico`);
      assert.equal(ico.status, 204, `${base}/favicon.ico`);
      const svg = await fetch(`${base}/favicon.svg`);
      assert.equal(svg.status, 200);
      assert.equal(svg.headers.get('content-type'), 'image/svg+xml');
      assert.match(await svg.text(), /^<svg /);
    }
  });

  test('sign-in, consent, and connected apps: same-named apps told apart by host, one app\'s connections grouped', async () => {
    // Two different apps that both call themselves "Notes Agent", and one app ("Claude") that registered itself twice.
    const impostor = await registerPublicClient(stack.urls, { client_name: 'Notes Agent', redirect_uris: ['https://notes.example.net/callback'] });
    await obtainTokens(stack.urls, new BrowserlessUser(stack.urls.issuer, 'alice', 'password123'), impostor);
    // Registered by two versions of the app: two clients (identical metadata would be one shared client).
    for (const version of ['1.0', '1.1']) {
      const claude = await registerPublicClient(stack.urls, { client_name: 'Claude', software_version: version, redirect_uris: [`http://localhost:${version === '1.0' ? 33418 : 40112}/callback`] });
      await obtainTokens(stack.urls, new BrowserlessUser(stack.urls.issuer, 'alice', 'password123'), claude);
    }
    const notes = await registerPublicClient(stack.urls, { client_name: 'Notes Agent', redirect_uris: [receiver.redirectUri] });

    const { context, page, problems } = await freshPage();
    try {
      const authorize = new URL('/authorize', stack.urls.issuer);
      authorize.search = new URLSearchParams({
        response_type: 'code',
        client_id: notes.client_id,
        redirect_uri: receiver.redirectUri,
        code_challenge: s256('a-verifier-of-this-test-that-is-long-enough-0123456789'),
        code_challenge_method: 'S256',
        state: 'pages',
        resource: stack.urls.resource,
        scope: 'profile notes:read',
      }).toString();
      await page.goto(authorize.href);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await shot(page, 'page-sign-in');
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('password123');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Allow Notes Agent to access your account?' }).waitFor();
      await shot(page, 'page-consent');
      await page.getByRole('button', { name: 'Allow' }).click();
      assert.equal((await receiver.next()).query.get('state'), 'pages');

      await page.goto(`${stack.urls.issuer}/account`);
      await page.getByRole('heading', { name: 'Connected apps' }).waitFor();
      await shot(page, 'page-account');
      const apps = page.locator('ul.apps > li');
      const texts = await apps.allInnerTexts();
      assert.equal(texts.length, 3, `Claude once, and each Notes Agent: ${JSON.stringify(texts)}`);
      const claude = texts.filter((t) => t.startsWith('Claude'));
      assert.equal(claude.length, 1, 'one entry for the app');
      assert.match(claude[0]!, /returns to localhost \(this computer\) · 2 connections/);
      assert.equal((claude[0]!.match(/Connected since \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/g) ?? []).length, 2, 'each connection with its time');
      const notesAgents = texts.filter((t) => t.startsWith('Notes Agent'));
      assert.equal(notesAgents.length, 2);
      assert.ok(notesAgents.some((t) => t.includes('returns to notes.example.net')));
      assert.ok(notesAgents.some((t) => t.includes('returns to 127.0.0.1 (this computer)')), 'the two are told apart by where they return');
      assert.equal(await page.getByRole('button', { name: 'Revoke access' }).count(), 4, 'each connection can be revoked');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('every console page: readable activity without the delivery attempts by default, endpoint URLs in deliveries, plain grant states', async () => {
    const asAdmin = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    const created = await http(`${stack.urls.admin}/admin/api/webhooks`, { method: 'POST', headers: asAdmin, json: { url: hookUrl, event_types: ['*'] } });
    assert.equal(created.status, 201, created.text);
    const bob = new BrowserlessUser(stack.urls.issuer, 'bob', 'password456');
    const agent = await registerPublicClient(stack.urls, { client_name: 'Activity Agent' });
    await obtainTokens(stack.urls, bob, agent);
    // The admin service applies the grant a moment after the token service wrote it.
    let grantId: string | undefined;
    for (const until = Date.now() + 10_000; !grantId && Date.now() < until; await sleep(50)) {
      grantId = (await http(`${stack.urls.admin}/admin/api/grants?client=${agent.client_id}`, { headers: asAdmin })).json!.grants[0]?.grant_id;
    }
    assert.ok(grantId, 'the admin service lists the grant');
    assert.equal((await http(`${stack.urls.admin}/admin/api/grants/${grantId}/revoke`, { method: 'POST', headers: asAdmin })).status, 200);
    // The deliveries of those events reach the receiver.
    const deadline = Date.now() + 15_000;
    let attempts = 0;
    while (Date.now() < deadline && attempts < 3) {
      attempts = (await http(`${stack.urls.admin}/admin/api/audit?type=WebhookDeliveryAttempted`, { headers: asAdmin })).json!.events.length;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(attempts >= 3, 'delivery attempts are in the trail');

    const { context, page, problems } = await freshPage();
    try {
      await page.goto(`${stack.urls.admin}/admin`);
      await page.getByRole('heading', { name: 'Admin console' }).waitFor();
      await shot(page, 'console-sign-in');
      await page.getByLabel('Admin token').fill(TEST_ADMIN_TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Activity' }).waitFor();
      await shot(page, 'console-activity');

      const table = page.locator('table.activity');
      const activity = await table.innerText();
      assert.doesNotMatch(activity, /WebhookDeliveryAttempted/, 'the attempts are left out by default');
      assert.doesNotMatch(activity, /[a-z][A-Z][a-z]+":|"[a-z]+[A-Z]/, 'no camelCase JSON');
      const signIn = page.getByRole('row').filter({ hasText: 'UserSignedIn' }).filter({ hasText: 'bob' }).first();
      assert.match(await signIn.innerText(), /user\s+bob/, 'the actor by name');
      const consent = page.getByRole('row').filter({ hasText: 'ConsentGranted' }).filter({ hasText: 'Activity Agent' }).first();
      const consentText = await consent.innerText();
      assert.match(consentText, /bob\s+Activity Agent/, 'user and client by name');
      assert.match(consentText, /consent_id\s+\S+/, 'details keyed in snake_case, as the API');
      assert.doesNotMatch(consentText, new RegExp(agent.client_id), 'the client id is not the row\'s text');
      assert.match(await table.innerText(), /ConsentRevoked[\s\S]*reason\s+revoked_by_admin/);
      const filters = page.locator('form.filters');
      const box = await filters.boundingBox();
      assert.ok(box && box.height < 90, `the filters fit on at most two lines (${box?.height} px)`);
      for (const field of await filters.locator('.field').all()) {
        const [label, input] = [await field.locator('label').boundingBox(), await field.locator('input, select').boundingBox()];
        assert.ok(label && input && Math.abs(label.y + label.height / 2 - (input.y + input.height / 2)) < 8, 'a label stays beside its field');
      }

      await page.getByLabel('Webhook delivery attempts').check();
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.getByRole('row').filter({ hasText: 'WebhookDeliveryAttempted' }).first().waitFor();
      assert.ok(await page.getByLabel('Webhook delivery attempts').isChecked(), 'the toggle stays on');
      await shot(page, 'console-activity-with-attempts');

      await page.getByRole('link', { name: 'Clients' }).click();
      await page.getByRole('heading', { name: 'Clients' }).waitFor();
      await shot(page, 'console-clients');

      await page.getByRole('link', { name: 'Users' }).click();
      await page.getByRole('heading', { name: 'Users' }).waitFor();
      await shot(page, 'console-users');
      await page.getByRole('link', { name: 'bob' }).click();
      await page.getByRole('heading', { name: 'Grants of bob' }).waitFor();
      const state = await page.getByRole('row').filter({ hasText: 'Activity Agent' }).getByRole('cell').nth(4).innerText();
      assert.equal(state, 'revoked (by an admin)');
      await shot(page, 'console-grants');

      await page.getByRole('link', { name: 'Webhooks' }).click();
      await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
      const delivery = page.getByRole('table', { name: 'Deliveries' }).getByRole('row').filter({ hasText: 'ClientRegistered' }).first();
      assert.match(await delivery.innerText(), new RegExp(hookUrl.replace(/[/.]/g, '\\$&')), 'the endpoint by its URL');
      await shot(page, 'console-webhooks');

      await page.getByRole('link', { name: 'Signing keys' }).click();
      await page.getByRole('heading', { name: 'Signing keys' }).waitFor();
      await shot(page, 'console-keys');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('a refused webhook target names the setting that allows it', async () => {
    const strict = await stack.addReplica('admin', { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' });
    const { context, page } = await freshPage();
    try {
      await page.goto(`${strict.url}/admin`);
      await page.getByLabel('Admin token').fill(TEST_ADMIN_TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('link', { name: 'Webhooks' }).click();
      await page.getByLabel('URL').fill('http://127.0.0.1:9/hooks');
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      const refusal = await page.getByRole('alert').innerText();
      assert.equal(refusal, 'url targets an address outside the public internet: 127.0.0.1 is a loopback address. WEBHOOK_ALLOW_PRIVATE_TARGETS=true on the admin service allows loopback and private-network targets.');
      await shot(page, 'console-webhooks-refused');
    } finally {
      await context.close();
      await strict.stop();
    }
  });
});
