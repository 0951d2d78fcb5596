import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import {
  BrowserlessUser,
  REPO_ROOT,
  TEST_ADMIN_TOKEN,
  http,
  launchBrowserInBackground,
  obtainTokens,
  registerPublicClient,
  startStack,
  type BackgroundBrowser,
  type TestStack,
} from '@mcp-auth/testing';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

function whoami(mcpUrl: string, accessToken: string) {
  return http(mcpUrl, {
    method: 'POST',
    headers: { Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-11-25', Authorization: `Bearer ${accessToken}` },
    json: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } },
  });
}

describe('the admin console in a real browser (headless Chromium)', () => {
  let stack: TestStack;
  let browser: BackgroundBrowser;

  before(async () => {
    browser = launchBrowserInBackground();
    // Webhooks to a loopback receiver, retried fast and dead-lettered after two tries.
    stack = await startStack({ admin: { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_RETRY_MAX_MS: '100', WEBHOOK_MAX_ATTEMPTS: '2' } });
    mkdirSync(ARTIFACTS, { recursive: true });
    await browser.settled();
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  /** A signed-in console page in a fresh context, watched for server errors and blocked resources. */
  async function signedInConsole(): Promise<{ page: Page; problems: string[]; close(): Promise<void> }> {
    const context = await browser.get().newContext();
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 500 || (r.status() >= 400 && new URL(r.url()).pathname !== '/favicon.ico' && r.status() !== 401)) problems.push(`${r.status()} ${r.url()}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of (404|401)/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    await page.goto(`${stack.urls.admin}/admin`);
    await page.getByRole('heading', { name: 'Admin console' }).waitFor();
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /not the admin token/);
    await page.getByLabel('Admin token').fill(TEST_ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Activity' }).waitFor();
    return { page, problems, close: () => context.close() };
  }

  test('find a user\'s grant, revoke it, and the MCP endpoint refuses that grant\'s token', async () => {
    const alice = new BrowserlessUser(stack.urls.issuer, 'alice', 'password123');
    const client = await registerPublicClient(stack.urls, { client_name: 'Console Test Agent' });
    const tokens = await obtainTokens(stack.urls, alice, client);
    const other = await obtainTokens(stack.urls, alice, await registerPublicClient(stack.urls, { client_name: 'Bystander Agent' }));
    assert.equal((await whoami(stack.urls.mcp, tokens.access_token)).status, 200);

    const { page, problems, close } = await signedInConsole();
    try {
      await page.getByRole('link', { name: 'Users' }).click();
      await page.getByLabel('Username').fill('ali');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByRole('link', { name: 'alice' }).click();
      await page.getByRole('heading', { name: 'Grants of alice' }).waitFor();
      const row = page.getByRole('row').filter({ hasText: 'Console Test Agent' });
      assert.match(await row.innerText(), /live/);
      await page.screenshot({ path: join(ARTIFACTS, 'admin-console-grants.png'), fullPage: true });
      await row.getByRole('button', { name: 'Revoke' }).click();
      await page.getByRole('heading', { name: 'Grants of alice' }).waitFor();
      assert.match(await page.getByRole('row').filter({ hasText: 'Console Test Agent' }).innerText(), /revoked.*by an admin/s);
      assert.match(await page.getByRole('row').filter({ hasText: 'Bystander Agent' }).innerText(), /live/, 'only that grant');

      const deadline = Date.now() + 3000;
      let status = 200;
      while (status === 200 && Date.now() < deadline) {
        status = (await whoami(stack.urls.mcp, tokens.access_token)).status;
        if (status === 200) await sleep(20);
      }
      assert.equal(status, 401, 'the revoked grant\'s token is refused');
      assert.equal((await whoami(stack.urls.mcp, other.access_token)).status, 200, 'another grant still works');

      // The audit trail names who revoked it, and from where: the admin's act ends the consent the grant stood on.
      await page.getByRole('link', { name: 'Activity' }).click();
      await page.getByLabel('Event').selectOption('ConsentRevoked');
      await page.getByRole('button', { name: 'Filter' }).click();
      const revocation = page.getByRole('row').filter({ hasText: 'ConsentRevoked' }).first();
      assert.match(await revocation.innerText(), /admin\s+console.*127\.0\.0\.1.*success.*revoked_by_admin/s);
      await page.screenshot({ path: join(ARTIFACTS, 'admin-console-activity.png'), fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });

  test('console forms refuse a post without the CSRF token, and pages need a session', async () => {
    const unsigned = await fetch(`${stack.urls.admin}/admin/clients`, { redirect: 'manual' });
    assert.equal(unsigned.status, 302);
    assert.equal(unsigned.headers.get('location'), '/admin/sign-in');
    const forged = await http(`${stack.urls.admin}/admin/sign-in`, { method: 'POST', form: { admin_token: TEST_ADMIN_TOKEN } });
    assert.equal(forged.status, 403);
    const crossSite = await http(`${stack.urls.admin}/admin/grants/x/revoke`, { method: 'POST', form: { _csrf: 'x' }, headers: { Origin: 'https://evil.example' } });
    assert.ok([302, 403].includes(crossSite.status), `refused (${crossSite.status})`);
  });

  test('the clients page shows last use and live grants', async () => {
    const { page, problems, close } = await signedInConsole();
    try {
      await page.getByRole('link', { name: 'Clients' }).click();
      await page.getByRole('heading', { name: 'Clients' }).waitFor();
      const row = page.getByRole('row').filter({ hasText: 'Bystander Agent' });
      const values = await row.getByRole('cell').allInnerTexts();
      const headers = await page.getByRole('columnheader').allInnerTexts();
      const cell = (header: string) => values[headers.indexOf(header)];
      assert.equal(cell('Status'), 'active');
      assert.equal(cell('Live grants'), '1', 'one live grant');
      assert.match(cell('Last used')!, /\d{4}-\d{2}-\d{2} /, 'a last-use time');
      await page.screenshot({ path: join(ARTIFACTS, 'admin-console-clients.png'), fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await close();
    }
  });

  test('add a webhook endpoint in the console; a failing receiver ends in a dead-lettered delivery shown there, and Retry delivers it once the receiver is back', async () => {
    const received: Array<{ id: string | undefined; signature: string | undefined }> = [];
    let up = false;
    const receiver: Server = createServer((req, res) => {
      req.resume();
      received.push({ id: req.headers['webhook-id'] as string | undefined, signature: req.headers['webhook-signature'] as string | undefined });
      res.statusCode = up ? 204 : 500;
      res.end(up ? '' : 'down for maintenance');
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    const { page, problems, close } = await signedInConsole();
    try {
      await page.getByRole('link', { name: 'Webhooks' }).click();
      await page.getByLabel('URL').fill(receiverUrl);
      await page.getByLabel('Events').fill('ClientRegistered');
      await page.getByLabel('Description').fill('always failing receiver');
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      await page.getByRole('status').waitFor();
      assert.match(await page.locator('[data-secret]').innerText(), /^whsec_/, 'the signing secret is shown once');

      /** The text of the first ClientRegistered delivery the console lists in a state, reloading until one shows (or '' after 15 s). */
      const deliveryRowIn = async (state: 'dead_lettered' | 'delivered'): Promise<string> => {
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline) {
          await page.goto(`${stack.urls.admin}/admin/webhooks?state=${state}`);
          const rows = page.getByRole('table', { name: 'Deliveries' }).getByRole('row').filter({ hasText: 'ClientRegistered' });
          if ((await rows.count()) > 0) return rows.first().innerText();
          await sleep(200);
        }
        return '';
      };

      await registerPublicClient(stack.urls, { client_name: 'Webhook Trigger Agent' });
      const row = await deliveryRowIn('dead_lettered');
      assert.match(row, /dead lettered\s+2\s+500/, 'the delivery is dead-lettered after 2 tries, last status 500');
      await page.screenshot({ path: join(ARTIFACTS, 'admin-console-webhooks.png'), fullPage: true });
      assert.equal(received.length, 2, 'two tries reached the receiver');
      assert.equal(new Set(received.map((r) => r.id)).size, 1, 'with one stable webhook-id');
      assert.ok(received.every((r) => r.signature?.startsWith('v1,')), 'each signed');

      // The receiver is back: the operator retries the dead letter from the console.
      up = true;
      const deadRow = page.getByRole('table', { name: 'Deliveries' }).getByRole('row').filter({ hasText: 'ClientRegistered' }).first();
      await deadRow.getByRole('button', { name: 'Retry' }).click();
      const delivered = await deliveryRowIn('delivered');
      assert.match(delivered, /delivered\s+3\s+204/, 'delivered on the third try overall');
      assert.equal(received.length, 3, 'exactly one more request');
      assert.equal(new Set(received.map((r) => r.id)).size, 1, 'still the same webhook-id');

      // Through the API: a delivered delivery cannot be retried, an unknown one is not found.
      const asAdmin = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
      const listed = await http(`${stack.urls.admin}/admin/api/webhooks/deliveries?state=delivered`, { headers: asAdmin });
      const done = listed.json!.deliveries.find((d: { id: string }) => d.id === received[0]!.id);
      assert.equal(done.retries, 1);
      const again = await http(`${stack.urls.admin}/admin/api/webhooks/deliveries/${done.id}/retry`, { method: 'POST', headers: asAdmin });
      assert.equal(again.status, 409);
      assert.equal((await http(`${stack.urls.admin}/admin/api/webhooks/deliveries/msg_nope/retry`, { method: 'POST', headers: asAdmin })).status, 404);
      assert.deepEqual(problems.filter((p) => !p.includes('/admin/webhooks')), []);
    } finally {
      await close();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});
