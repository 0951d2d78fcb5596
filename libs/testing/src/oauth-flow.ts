import { createHash, randomBytes } from 'node:crypto';

/** HTTP helpers for tests and benchmarks that drive the real OAuth flow the way a browser and an agent do. */

export type Json = Record<string, any>;
export type HttpAnswer = { status: number; headers: Headers; text: string; json: Json | null };

const HTTP_TIMEOUT_MS = 30_000;

export async function http(url: string, init: RequestInit & { json?: unknown; form?: Record<string, string> } = {}): Promise<HttpAnswer> {
  const { json, form, ...rest } = init;
  const headers = new Headers(rest.headers);
  let body = rest.body;
  if (json !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    headers.set('Content-Type', 'application/x-www-form-urlencoded');
    body = new URLSearchParams(form).toString();
  }
  // A request that never ends fails here, naming itself, instead of holding the test file until its timeout.
  const signal = rest.signal ?? AbortSignal.timeout(HTTP_TIMEOUT_MS);
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { ...rest, headers, body, redirect: 'manual', signal });
    text = await res.text();
  } catch (err) {
    if (signal.aborted && !rest.signal) throw new Error(`${rest.method ?? 'GET'} ${url} got no complete answer within ${HTTP_TIMEOUT_MS / 1000} s`);
    // fetch says only "fetch failed"; the reason (refused, reset, closed) is in its cause, which the runner does not print.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (cause) throw new Error(`${rest.method ?? 'GET'} ${url} failed: ${[cause.code, cause.message].filter(Boolean).join(' ')}`, { cause: err });
    throw err;
  }
  let parsed: Json | null = null;
  try {
    parsed = text ? (JSON.parse(text) as Json) : null;
  } catch {}
  return { status: res.status, headers: res.headers, text, json: parsed };
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export type DeploymentUrls = { registration: string; issuer: string; token: string; resource: string };

export async function registerPublicClient(urls: DeploymentUrls, overrides: Json = {}): Promise<Json> {
  const res = await http(`${urls.registration}/register`, {
    method: 'POST',
    json: {
      client_name: `test client ${randomBytes(4).toString('hex')}`,
      redirect_uris: ['http://127.0.0.1:8976/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...overrides,
    },
  });
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${res.text}`);
  return res.json!;
}

/** HTTP with a cookie jar, as a browser keeps one for a site. */
export class CookieKeepingHttp {
  readonly #cookies = new Map<string, string>();

  async request(url: string, init: RequestInit & { form?: Record<string, string> } = {}): Promise<HttpAnswer> {
    const headers = new Headers(init.headers);
    if (this.#cookies.size) headers.set('Cookie', [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const answer = await http(url, { ...init, headers });
    for (const cookie of answer.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /max-age=0/i.test(cookie) || /expires=Thu, 01 Jan 1970/i.test(cookie)) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
    return answer;
  }
}

/** A person with a browser that does not run scripts: keeps cookies, follows our own pages' forms. */
export class BrowserlessUser {
  constructor(
    readonly issuer: string,
    readonly username: string,
    readonly password: string,
  ) {}

  #browser = new CookieKeepingHttp();

  /** How many consent pages this person has answered: one more after an authorization that asked again. */
  consentPagesAnswered = 0;

  #request(url: string, init: RequestInit & { form?: Record<string, string> } = {}): Promise<HttpAnswer> {
    return this.#browser.request(url, init);
  }

  /**
   * Walks /authorize like a person: signs in if asked, then answers the consent page (decision and which
   * optional scopes to leave ticked). Returns the redirect's query parameters.
   */
  async authorize(authorizationUrl: string, { decision = 'allow', untick = [] as string[] } = {}): Promise<URLSearchParams> {
    let page = await this.#request(authorizationUrl);
    for (let step = 0; step < 6; step++) {
      const location = page.headers.get('location');
      if (page.status >= 300 && page.status < 400 && location) {
        const target = new URL(location, this.issuer);
        if (target.origin !== new URL(this.issuer).origin) return target.searchParams;
        page = await this.#request(target.href);
        continue;
      }
      if (page.status !== 200) throw new Error(`unexpected page ${page.status}: ${pageText(page.text).slice(0, 300)}`);
      const forms = parseForms(page.text);
      const signIn = forms.find((f) => f.action === '/signin');
      if (signIn) {
        page = await this.#request(`${this.issuer}/signin`, {
          method: 'POST',
          headers: { Origin: new URL(this.issuer).origin },
          form: { ...signIn.fields, username: this.username, password: this.password },
        });
        continue;
      }
      const consent = forms.find((f) => f.action === '/authorize/consent' && f.fields.decision === decision);
      if (!consent) throw new Error(`no form to continue with on: ${page.text.slice(0, 300)}`);
      this.consentPagesAnswered++;
      const fields = { ...consent.fields };
      for (const scope of untick) delete fields[`scope:${scope}`];
      page = await this.#request(`${this.issuer}/authorize/consent`, { method: 'POST', headers: { Origin: new URL(this.issuer).origin }, form: fields });
    }
    throw new Error('too many steps in the authorization flow');
  }
}

/** What a person reads on one of our pages (an error page's message), without the markup and the style sheet. */
export function pageText(html: string): string {
  const main = /<main[^>]*>([\s\S]*?)<\/main>/.exec(html)?.[1] ?? /<body[^>]*>([\s\S]*?)<\/body>/.exec(html)?.[1] ?? html;
  return main.replace(/<(style|script)[\s\S]*?<\/\1>/g, ' ').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
}

/** The forms of one of our pages, with their hidden and checked inputs (enough for our own markup). */
export function parseForms(html: string): Array<{ action: string; fields: Record<string, string> }> {
  const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return [...html.matchAll(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)].map((m) => {
    const fields: Record<string, string> = {};
    for (const input of m[2]!.matchAll(/<input([^>]*)>/g)) {
      const attrs = input[1]!;
      const name = /name="([^"]*)"/.exec(attrs)?.[1];
      if (!name) continue;
      const type = /type="([^"]*)"/.exec(attrs)?.[1] ?? 'text';
      if (type === 'checkbox' && !/\bchecked\b/.test(attrs)) continue;
      fields[unescape(name)] = unescape(/value="([^"]*)"/.exec(attrs)?.[1] ?? '');
    }
    return { action: unescape(m[1]!), fields };
  });
}

export function authorizationUrl(
  issuer: string,
  params: { clientId: string; redirectUri: string; challenge: string; state?: string; scope?: string; resource?: string; extra?: Record<string, string> },
): string {
  const url = new URL(`${issuer}/authorize`);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', params.clientId);
  url.searchParams.set('redirect_uri', params.redirectUri);
  url.searchParams.set('code_challenge', params.challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', params.state ?? randomBytes(8).toString('hex'));
  if (params.scope !== undefined) url.searchParams.set('scope', params.scope);
  if (params.resource !== undefined) url.searchParams.set('resource', params.resource);
  for (const [k, v] of Object.entries(params.extra ?? {})) url.searchParams.set(k, v);
  return url.href;
}

/** One whole flow for a public client: authorize as `user`, then exchange the code. Returns the token response. */
export async function obtainTokens(
  urls: DeploymentUrls,
  user: BrowserlessUser,
  client: Json,
  { scope, redirectUri = client.redirect_uris[0] as string }: { scope?: string; redirectUri?: string } = {},
): Promise<Json> {
  const { verifier, challenge } = pkcePair();
  const result = await user.authorize(authorizationUrl(urls.issuer, { clientId: client.client_id, redirectUri, challenge, resource: urls.resource, ...(scope ? { scope } : {}) }));
  const code = result.get('code');
  if (!code) throw new Error(`authorization failed: ${result}`);
  const token = await http(`${urls.token}/token`, {
    method: 'POST',
    form: { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: client.client_id, resource: urls.resource },
  });
  if (token.status !== 200) throw new Error(`token exchange failed: ${token.status} ${token.text}`);
  return token.json!;
}
