import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  authorizationUrl,
  http,
  launchBrowserInBackground,
  pkcePair,
  registerPublicClient,
  startRedirectReceiver,
  startStack,
  type BackgroundBrowser,
  type Json,
  type RedirectReceiver,
  type TestStack,
} from '@mcp-auth/testing';

/**
 * Least privilege comes from the user (issue 22 §3 c): the default scopes are required, the other requested
 * scopes optional checkboxes, ticked or not by OPTIONAL_SCOPES_PRESELECTED, and the token carries what was left ticked.
 */
describe('a real browser unticks an optional scope on the consent page', () => {
  let stack: TestStack;
  let browser: BackgroundBrowser;
  let receiver: RedirectReceiver;
  let client: Json;
  /** The authorization service started with OPTIONAL_SCOPES_PRESELECTED=false. */
  let unticked: string;

  before(async () => {
    browser = launchBrowserInBackground();
    receiver = await startRedirectReceiver();
    stack = await startStack({ mcpReplicas: 0, extraAuthorizations: [{ OPTIONAL_SCOPES_PRESELECTED: 'false' }] });
    unticked = stack.extraAuthorizations[0]!.url;
    client = await registerPublicClient(stack.urls, { client_name: 'Least Privilege Agent', redirect_uris: [receiver.redirectUri] });
    await browser.settled();
  });

  after(async () => {
    await browser?.close();
    await receiver?.close();
    await stack?.stop();
  });

  /** Signs in as alice at `issuer`, lets `choose` act on the consent page, clicks Allow and exchanges the code. */
  async function consentAndExchange(issuer: string, choose: (page: Page) => Promise<void>): Promise<Json> {
    const context = await browser.get().newContext();
    context.setDefaultTimeout(10_000);
    try {
      const page = await context.newPage();
      const { verifier, challenge } = pkcePair();
      await page.goto(authorizationUrl(issuer, { clientId: client.client_id, redirectUri: receiver.redirectUri, challenge, resource: stack.urls.resource, scope: 'profile notes:read notes:write', extra: { prompt: 'consent' } }));
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('password123');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Allow Least Privilege Agent to access your account?' }).waitFor();
      assert.equal(await page.getByLabel('Know who you are').isDisabled(), true, 'a default scope cannot be unticked');
      assert.equal(await page.getByLabel('Read your notes').isDisabled(), true, 'a default scope cannot be unticked');
      assert.equal(await page.getByLabel('Create and delete your notes').isEnabled(), true, 'notes:write is optional');
      await choose(page);
      await page.getByRole('button', { name: 'Allow' }).click();
      const landed = await receiver.next();
      const code = landed.query.get('code');
      assert.ok(code, `a code: ${landed.query}`);
      const token = await http(`${stack.urls.token}/token`, {
        method: 'POST',
        form: { grant_type: 'authorization_code', code, redirect_uri: receiver.redirectUri, code_verifier: verifier, client_id: client.client_id, resource: stack.urls.resource },
      });
      assert.equal(token.status, 200, token.text);
      return token.json!;
    } finally {
      await context.close();
    }
  }

  test('preselected (the default): the user unticks notes:write, and the token scope lacks it', async () => {
    const answer = await consentAndExchange(stack.urls.issuer, async (page) => {
      const write = page.getByLabel('Create and delete your notes');
      assert.equal(await write.isChecked(), true, 'ticked by default');
      await write.uncheck();
    });
    assert.equal(answer.scope, 'profile notes:read');
  });

  test('OPTIONAL_SCOPES_PRESELECTED=false: notes:write starts unticked; left so, the token lacks it; ticked, it has it', async () => {
    const left = await consentAndExchange(unticked, async (page) => {
      assert.equal(await page.getByLabel('Create and delete your notes').isChecked(), false, 'unticked by policy');
    });
    assert.equal(left.scope, 'profile notes:read');
    const ticked = await consentAndExchange(unticked, (page) => page.getByLabel('Create and delete your notes').check());
    assert.equal(ticked.scope, 'profile notes:read notes:write');
  });
});
