import { CookieKeepingHttp, parseForms, type HttpAnswer } from './oauth-flow.ts';

/**
 * A person on the authorization service's "connected apps" page (/account), with a browser that keeps
 * cookies and submits the page's own forms (CSRF token included, same-origin Origin header).
 */
export class AccountSession {
  readonly #browser = new CookieKeepingHttp();

  constructor(
    readonly issuer: string,
    readonly username: string,
    readonly password: string,
  ) {}

  request(url: string, init: RequestInit & { form?: Record<string, string> } = {}): Promise<HttpAnswer> {
    const headers = new Headers(init.headers);
    if (init.form) headers.set('Origin', new URL(this.issuer).origin);
    return this.#browser.request(url, { ...init, headers });
  }

  /** The /account page, signing in through its form first if there is no session yet. */
  async accountPage(): Promise<HttpAnswer> {
    let page = await this.request(`${this.issuer}/account`);
    const signIn = parseForms(page.text).find((f) => f.action === '/signin');
    if (signIn) {
      const signedIn = await this.request(`${this.issuer}/signin`, { method: 'POST', form: { ...signIn.fields, username: this.username, password: this.password } });
      if (signedIn.status !== 303) throw new Error(`sign-in failed: ${signedIn.status} ${signedIn.text.slice(0, 300)}`);
      page = await this.request(`${this.issuer}/account`);
    }
    if (page.status !== 200) throw new Error(`/account answered ${page.status}: ${page.text.slice(0, 300)}`);
    return page;
  }

  /** Client ids of the apps listed as connected. */
  async connectedApps(): Promise<string[]> {
    const page = await this.accountPage();
    return parseForms(page.text)
      .filter((f) => f.action === '/account/apps/revoke')
      .map((f) => f.fields.client_id ?? '');
  }

  /** Presses "Revoke access" for one client (ConsentRevoked for every consent the user gave it). */
  async revokeApp(clientId: string): Promise<void> {
    const page = await this.accountPage();
    const form = parseForms(page.text).find((f) => f.action === '/account/apps/revoke' && f.fields.client_id === clientId);
    if (!form) throw new Error(`${clientId} is not listed on the connected-apps page`);
    const answer = await this.request(`${this.issuer}/account/apps/revoke`, { method: 'POST', form: form.fields });
    if (answer.status !== 303 || !answer.headers.get('location')?.includes(`revoked=${encodeURIComponent(clientId)}`)) {
      throw new Error(`revocation failed: ${answer.status} ${answer.text.slice(0, 300)}`);
    }
  }
}
