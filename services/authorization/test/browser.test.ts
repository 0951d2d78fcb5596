import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { s256 } from '@mcp-auth/oauth';
import {
  REPO_ROOT,
  freePort,
  launchBrowserInBackground,
  startNats,
  startRedirectReceiver,
  startService,
  type BackgroundBrowser,
  type NatsHandle,
  type RedirectReceiver,
  type ServiceProcess,
} from '@mcp-auth/testing';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const MCP_RESOURCE = 'http://localhost:3000/mcp';
const CODE = /^[A-Za-z0-9_-]{43}\.[1-9][0-9]*$/;

describe('a real browser (headless Chromium) through sign-in and consent', () => {
  let nats: NatsHandle;
  let reg: ServiceProcess;
  let auth: ServiceProcess;
  let issuer: string;
  let browser: BackgroundBrowser;
  let receiver: RedirectReceiver;
  let client: { client_id: string; client_name: string };

  before(async () => {
    // The browser may still be being installed: wait for it (up to 5 minutes) while the services start,
    // and fail with the install command if it never comes.
    browser = launchBrowserInBackground();
    nats = await startNats();
    receiver = await startRedirectReceiver();
    reg = await startService('registration', { env: { NATS_URL: nats.url, REGISTRATION_RATE_LIMIT: '0' } });
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    auth = await startService('authorization', {
      port,
      env: { NATS_URL: nats.url, ISSUER: issuer, SEED_USERS: 'alice:password123', REGISTRATION_BASE_URL: reg.url, MCP_RESOURCE_URL: MCP_RESOURCE, SIGNIN_RATE_LIMIT: '0' },
    });
    const res = await fetch(`${reg.url}/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_name: 'Browser Test Agent', redirect_uris: [receiver.redirectUri], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }),
    });
    assert.equal(res.status, 201);
    client = (await res.json()) as typeof client;
    mkdirSync(ARTIFACTS, { recursive: true });
    // A missing browser fails every test with the install hint (a failed hook would only "cancel" them).
    await browser.settled();
  });

  after(async () => {
    await browser?.close();
    await receiver?.close();
    await Promise.all([auth?.stop(), reg?.stop()]);
    await nats?.stop();
  });

  function authorizationUrl(scope: string, extra: Record<string, string> = {}) {
    const verifier = randomBytes(32).toString('base64url');
    const state = `state-${randomBytes(8).toString('base64url')}`;
    const url = new URL('/authorize', issuer);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: receiver.redirectUri,
      code_challenge: s256(verifier),
      code_challenge_method: 'S256',
      state,
      resource: MCP_RESOURCE,
      scope,
      ...extra,
    }).toString();
    return { url: url.href, state };
  }

  /** Watches a page for what a user must never see: a server error or a blocked (CSP) resource. */
  function watch(page: Page): string[] {
    const problems: string[] = [];
    page.on('response', (r) => {
      // Chromium asks for /favicon.ico on its own; the service has none, and that is fine.
      if (r.status() >= 400 && new URL(r.url()).pathname !== '/favicon.ico') problems.push(`${r.status()} ${r.url()}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 404/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    return problems;
  }

  /** A page in a context of its own (no cookies from another test), watched for problems. */
  async function freshPage(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await browser.get().newContext();
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    return { context, page, problems: watch(page) };
  }

  async function signIn(page: Page): Promise<void> {
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('password123');
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  test('sign in by the labels, see the consent page, Allow, and land on the redirect URI with a code, the state and iss', async (t) => {
    const { context, page, problems } = await freshPage();
    const { url, state } = authorizationUrl('profile notes:read notes:write');
    try {
      await page.goto(url);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      const signInText = await page.locator('main').innerText();
      assert.match(signInText, /Browser Test Agent wants to access your account/);
      // The sign-in page names the client too, so it carries the consent page's caution about that name.
      assert.match(signInText, /Browser Test Agent registered itself with this server\. Its name has not been verified/);
      const signInShot = join(ARTIFACTS, 'authorization-sign-in.png');
      await page.screenshot({ path: signInShot, fullPage: true });
      t.diagnostic(`sign-in page screenshot: ${signInShot}`);

      await signIn(page);

      await page.getByRole('heading', { name: 'Allow Browser Test Agent to access your account?' }).waitFor();
      const consentText = await page.locator('main').innerText();
      assert.match(consentText, /registered itself/);
      assert.match(consentText, new RegExp(`127\\.0\\.0\\.1:${receiver.port}`), 'names the host it returns to');
      for (const [scope, description] of [
        ['profile', 'Know who you are'],
        ['notes:read', 'Read your notes'],
        ['notes:write', 'Create and delete your notes'],
      ] as const) {
        assert.ok(await page.getByText(scope, { exact: true }).isVisible(), `lists ${scope}`);
        assert.ok(await page.getByLabel(description).isVisible(), `describes ${scope}`);
      }
      // The default scopes are ticked and fixed; the optional one may be unticked.
      assert.equal(await page.getByLabel('Know who you are').isDisabled(), true);
      assert.equal(await page.getByLabel('Create and delete your notes').isChecked(), true);
      assert.equal(await page.getByLabel('Create and delete your notes').isEnabled(), true);
      assert.ok(await page.getByRole('button', { name: 'Deny' }).isVisible());
      const consentShot = join(ARTIFACTS, 'authorization-consent.png');
      await page.screenshot({ path: consentShot, fullPage: true });
      t.diagnostic(`consent page screenshot: ${consentShot}`);

      const before = receiver.received.length;
      await page.getByRole('button', { name: 'Allow' }).click();
      const landed = await receiver.next();
      assert.equal(receiver.received.length, before + 1, 'the client received exactly one redirect');
      assert.equal(landed.path, '/callback');
      assert.match(landed.query.get('code') ?? '', CODE);
      assert.equal(landed.query.get('state'), state);
      assert.equal(landed.query.get('iss'), issuer);
      assert.equal(landed.query.get('error'), null);
      await page.waitForURL((u) => u.origin === new URL(receiver.redirectUri).origin);
      assert.equal(new URL(page.url()).searchParams.get('state'), state, 'the browser itself is on the redirect URI');

      // The connected-apps page now lists the app.
      await page.goto(`${issuer}/account`);
      assert.match(await page.locator('main').innerText(), /Browser Test Agent/);
      assert.ok(await page.getByRole('button', { name: 'Revoke access' }).isVisible());
      assert.deepEqual(problems, [], 'no server error, no blocked resource, no console error');
    } finally {
      await context.close();
    }
  });

  test('the Deny path lands on the redirect URI with error=access_denied', async () => {
    const { context, page, problems } = await freshPage();
    // prompt=consent: alice may have consented already, and must be asked all the same.
    const { url, state } = authorizationUrl('profile notes:read', { prompt: 'consent' });
    try {
      await page.goto(url);
      await signIn(page);
      await page.getByRole('heading', { name: 'Allow Browser Test Agent to access your account?' }).waitFor();
      await page.getByRole('button', { name: 'Deny' }).click();
      const landed = await receiver.next();
      assert.equal(landed.query.get('error'), 'access_denied');
      assert.equal(landed.query.get('state'), state);
      assert.equal(landed.query.get('iss'), issuer);
      assert.equal(landed.query.get('code'), null);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('a returning user whose consent is remembered signs in and lands straight on the redirect URI', async () => {
    const { context, page, problems } = await freshPage();
    const { url, state } = authorizationUrl('profile notes:read');
    try {
      await page.goto(url);
      // The sign-in form post ends, through /authorize, at the client: the page's CSP form-action must allow it.
      await signIn(page);
      const landed = await receiver.next();
      assert.match(landed.query.get('code') ?? '', CODE);
      assert.equal(landed.query.get('state'), state);
      assert.equal(landed.query.get('iss'), issuer);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('a wrong password shows the generic message in the page, and the form can be used again', async () => {
    const { context, page } = await freshPage();
    const { url, state } = authorizationUrl('profile notes:read');
    try {
      await page.goto(url);
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('not-the-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').waitFor();
      assert.equal((await page.getByRole('alert').innerText()).trim(), 'Incorrect username or password.');
      assert.equal(await page.getByLabel('Username').inputValue(), 'alice', 'the username is kept');
      assert.match(await page.locator('main').innerText(), /Browser Test Agent registered itself with this server\. Its name has not been verified/, 'the form shown again still says whose request it is');
      await signIn(page);
      // alice already consented to profile notes:read in the first test: remembered, the sign-in form post
      // leads (through /authorize) straight back to the client, which the page's CSP form-action must allow.
      const landed = await receiver.next();
      assert.match(landed.query.get('code') ?? '', CODE);
      assert.equal(landed.query.get('state'), state);
    } finally {
      await context.close();
    }
  });
});
