import { isToolScope, type ScopeDefinition } from '@mcp-auth/oauth';
import type { Consent, DirectoryClient, RegisteredClient } from '@mcp-auth/read-models';
import type { AuthorizationRequest } from '../authorize/authorization-request.ts';
import { html, type SafeHtml } from '@mcp-auth/web';
import { looksLikeClientIdUrl } from '@mcp-auth/oauth';

export type SignInPageModel = {
  csrf: string;
  returnTo: string;
  username?: string;
  error?: string;
  context?: string;
  /** The client whose authorization request the sign-in continues, if any: the page names it, with the same caution as the consent page. */
  client?: (RegisteredClient & Partial<Pick<DirectoryClient, 'document'>>) | null;
};

/** What a client calls itself, for a page. */
export function clientDisplayName(client: RegisteredClient): string {
  return client.metadata.client_name || 'An unnamed application';
}

/**
 * A registered client registered itself (RFC 7591), so its name is only its own claim: wherever a page names the
 * client a person is about to let in, it says so. A metadata document's client has one verified fact, the host
 * its document was fetched from (CIMD §8.5), shown first; and when every redirect URI is on this computer, any
 * program on it could be that client (MCP authorization, "Localhost Redirect URI Risks").
 */
function clientNotice(client: RegisteredClient & Partial<Pick<DirectoryClient, 'document'>>): SafeHtml {
  const name = clientDisplayName(client);
  const document = client.document;
  if (!document) {
    return html`<p class="notice"><strong>${name}</strong> registered itself with this server. Its name has not been verified: continue only if you started this from an application you trust.</p>`;
  }
  return html`<p class="notice verified-host">This application is described by <strong><code>${document.verifiedHost}</code></strong>: that host is verified. It calls itself <strong>${name}</strong>, which is its own claim, not verified.</p>
${document.localhostOnly ? html`<p class="notice localhost-warning" role="alert">It receives its answer only on this computer (localhost): any program running here could claim to be this application. Continue only if you started this yourself.</p>` : ''}`;
}

export function signInPage(model: SignInPageModel): SafeHtml {
  return html`
<h1>Sign in</h1>
${model.context ? html`<p class="muted">${model.context}</p>` : ''}
${model.client ? clientNotice(model.client) : ''}
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
<form method="post" action="/signin">
  <input type="hidden" name="_csrf" value="${model.csrf}">
  <input type="hidden" name="return_to" value="${model.returnTo}">
  <label for="username">Username</label>
  <input type="text" id="username" name="username" value="${model.username ?? ''}" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" autocomplete="current-password" required>
  <div class="actions"><button type="submit">Sign in</button></div>
</form>`;
}

export type ConsentPageModel = {
  csrf: string;
  request: AuthorizationRequest;
  hiddenParameters: Array<[string, string]>;
  username: string;
  scopes: readonly ScopeDefinition[];
  required: readonly string[];
  /** Whether the scopes the user may leave out start ticked (OPTIONAL_SCOPES_PRESELECTED). */
  preselectOptional: boolean;
  error?: string;
};

/** Where the client will receive the answer: the redirect URI's host, or its scheme for an app link. */
export function redirectTarget(redirectUri: string): string {
  const url = new URL(redirectUri);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : `${url.protocol}//${url.host}`;
}

export function consentPage(model: ConsentPageModel): SafeHtml {
  const { request } = model;
  const name = clientDisplayName(request.client);
  const hidden = (decision: 'allow' | 'deny') => html`
  <input type="hidden" name="_csrf" value="${model.csrf}">
  <input type="hidden" name="decision" value="${decision}">
  ${model.hiddenParameters.map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">\n  `)}`;
  return html`
<h1>Allow ${name}${request.client.document ? html` (${request.client.document.verifiedHost})` : ''} to access your account?</h1>
${clientNotice(request.client)}
<p>After you decide, you will be sent back to <strong><code>${redirectTarget(request.redirectUri)}</code></strong>.</p>
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
<form method="post" action="/authorize/consent">
  ${hidden('allow')}
  <p>${name} asks to:</p>
  <ul class="scopes">
  ${request.scopes.filter(isToolScope).map((scope, i) => {
    const description = model.scopes.find((s) => s.name === scope)?.description ?? scope;
    const id = `scope-${i}`;
    return model.required.includes(scope)
      ? html`<li><input type="checkbox" id="${id}" checked disabled><input type="hidden" name="scope:${scope}" value="on"> <label for="${id}">${description}</label> <code>${scope}</code> <span class="muted">(needed)</span></li>\n  `
      : html`<li><input type="checkbox" id="${id}" name="scope:${scope}" value="on"${model.preselectOptional ? html` checked` : ''}> <label for="${id}">${description}</label> <code>${scope}</code></li>\n  `;
  })}</ul>
  ${request.scopes.filter((scope) => !isToolScope(scope)).map((scope) => html`<input type="hidden" name="scope:${scope}" value="on">
  <p><strong>${model.scopes.find((s) => s.name === scope)?.description ?? scope}</strong> <code>${scope}</code>: it can renew its access without asking you again, until you revoke it under Connected apps.</p>
  `)}
  <p class="muted">For: <code>${request.resource}</code></p>
  <div class="actions"><button type="submit">Allow</button> <button type="submit" form="deny" class="secondary">Deny</button></div>
</form>
<form method="post" action="/authorize/consent" id="deny">
  ${hidden('deny')}
</form>
<p class="muted">Signed in as <strong>${model.username}</strong>.</p>`;
}

export function errorPage(message: string): SafeHtml {
  return html`
<h1>This request cannot continue</h1>
<p class="error" role="alert">${message}</p>
<p class="muted">You can close this window and start again from the application.</p>`;
}

export type ConnectedApp = { client: RegisteredClient | null; clientId: string; consents: Consent[] };

/**
 * What tells two apps of the same name apart: the host a client metadata document was fetched from (the one thing
 * verified about a client), else the host its redirect URI sends people back to.
 */
function appOrigin(app: ConnectedApp): { label: string; host: string } | null {
  if (looksLikeClientIdUrl(app.clientId)) {
    try {
      return { label: 'verified site', host: new URL(app.clientId).host };
    } catch {}
  }
  const redirect = app.client?.metadata.redirect_uris?.[0];
  if (!redirect) return null;
  try {
    const url = new URL(redirect);
    // A native app's loopback port changes from run to run (RFC 8252 §7.3): it tells nothing apart.
    if (LOOPBACK_HOSTS.has(url.hostname)) return { label: 'returns to', host: `${url.hostname} (this computer)` };
    return { label: 'returns to', host: redirectTarget(redirect) };
  } catch {
    return null;
  }
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

type AppGroup = { name: string; origin: { label: string; host: string } | null; connections: Array<ConnectedApp & { since: string }> };

/** One entry per app as a person sees it (a name at a host); each registration the app made of itself is one connection of it. */
function groupApps(apps: ConnectedApp[]): AppGroup[] {
  const groups = new Map<string, AppGroup>();
  for (const app of apps) {
    const name = app.client ? clientDisplayName(app.client) : app.clientId;
    const origin = appOrigin(app);
    const key = JSON.stringify([name, origin?.label ?? null, origin?.host ?? null, app.client ? 'active' : 'deleted']);
    const group = groups.get(key) ?? { name, origin, connections: [] };
    group.connections.push({ ...app, since: app.consents.map((c) => c.grantedAt).sort()[0] ?? '' });
    groups.set(key, group);
  }
  for (const group of groups.values()) group.connections.sort((x, y) => y.since.localeCompare(x.since));
  return [...groups.values()].sort((x, y) => x.name.localeCompare(y.name) || (x.origin?.host ?? '').localeCompare(y.origin?.host ?? ''));
}

const minute = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

export function accountPage({ username, apps, csrf, notice }: { username: string; apps: ConnectedApp[]; csrf: string; notice?: string }): SafeHtml {
  return html`
<h1>Connected apps</h1>
<p class="muted">Signed in as <strong>${username}</strong>.</p>
${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
${apps.length === 0
  ? html`<p>No application has access to your account.</p>`
  : html`<ul class="apps">${groupApps(apps).map(
      (group) => html`
  <li>
    <strong>${group.name}</strong>${group.connections[0]!.client ? '' : html` <span class="muted">(deleted)</span>`}${group.origin ? html` <span class="muted">· ${group.origin.label} <code>${group.origin.host}</code></span>` : ''}${group.connections.length > 1 ? html` <span class="muted">· ${group.connections.length} connections</span>` : ''}
    <ul class="connections">${group.connections.map((app) => {
      const scopes = [...new Set(app.consents.flatMap((c) => c.scopes))];
      const resources = [...new Set(app.consents.map((c) => c.resource))];
      return html`
      <li>
        <span class="muted">Connected since ${minute(app.since)} · can: ${scopes.map((s, i) => html`${i ? ', ' : ''}<code>${s}</code>`)} on ${resources.map((r, i) => html`${i ? ', ' : ''}<code>${r}</code>`)}</span>
        <form method="post" action="/account/apps/revoke">
          <input type="hidden" name="_csrf" value="${csrf}">
          <input type="hidden" name="client_id" value="${app.clientId}">
          <div class="actions"><button type="submit" class="danger">Revoke access</button></div>
        </form>
      </li>`;
    })}</ul>
  </li>`,
    )}</ul>`}
<form method="post" action="/signout">
  <input type="hidden" name="_csrf" value="${csrf}">
  <div class="actions"><button type="submit" class="secondary">Sign out</button></div>
</form>`;
}
