import { refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Logger } from '@mcp-auth/http';
import type { TokenVerifier } from '../access/token-verifier.ts';
import type { ToolIdentity } from '../tools/tool.ts';
import { describe, timedFetch, type AuthorizationServer } from './authorization-server.ts';
import type { CredentialStore, StoredClient } from './credential-store.ts';

/** A token is refreshed when this share of its lifetime has passed, so that a call never meets an expired one. */
const REFRESH_AT_SHARE_OF_LIFETIME = 0.75;
/** How often the held token is checked against the projection, so that a revocation ends the process even when idle. */
const WATCH_INTERVAL_MS = 200;
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

export type RefreshOutcome = { kind: 'refreshed' } | { kind: 'ended'; why: string } | { kind: 'failed'; why: string };

type HeldToken = { token: string; refreshAt: number; expiresAt: number };

/**
 * Keeps `mcp-tools --stdio` authorized for the life of the user's grant: holds the current access token,
 * refreshes it before it expires (each rotated refresh token stored before the new access token is used),
 * checks it with the same verifier as HTTP on every call and every WATCH_INTERVAL_MS, and ends when the grant
 * does: a refresh answered invalid_grant (or invalid_client), or a revoked token whose refresh confirms it.
 */
export class GrantKeeper {
  #held: HeldToken | null = null;
  /** The refresh token this process stored last: the one to forget when the grant turns out dead. */
  #refreshToken: string | null = null;
  #refreshing: Promise<RefreshOutcome> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #watcher: NodeJS.Timeout | null = null;
  #retryMs = RETRY_FIRST_MS;
  /** After a failed refresh, no other is tried before this time (a revoked-looking token must not hammer a server that is down). */
  #retryAt = 0;
  #lastIdentity: ToolIdentity | null = null;
  #notYet = 'Not connected yet.';
  #over = false;
  #end!: (why: string) => void;
  /** Resolves with the reason when the grant has ended; the process then stops. */
  readonly ended = new Promise<string>((resolve) => (this.#end = resolve));

  constructor(
    private readonly deps: {
      store: CredentialStore;
      server: AuthorizationServer;
      resource: string;
      verifier: TokenVerifier;
      logger: Logger;
    },
  ) {}

  /** What a tool call is told while there is no access token yet (where to sign in, or why the refresh failed). */
  notConnectedBecause(reason: string): void {
    this.#notYet = reason;
  }

  /** Stores the outcome of a sign-in (client and refresh token), then starts using its access token. */
  async adoptSignIn(tokens: OAuthTokens, client: StoredClient): Promise<void> {
    if (!tokens.refresh_token) throw new Error('the authorization server issued no refresh token');
    await this.deps.store.locked(async () => {
      this.deps.store.write({ resource: this.deps.resource, client, grant: { refreshToken: tokens.refresh_token!, seed: null, savedAt: new Date().toISOString() } });
    });
    this.#refreshToken = tokens.refresh_token;
    this.#hold(tokens);
  }

  /**
   * The first refresh of a stored or given credential. A refusal is returned rather than ending the grant
   * here, so that the caller can sign in again instead.
   */
  resume(): Promise<RefreshOutcome> {
    return this.#refreshOnce();
  }

  /** One refresh at a time in this process; the store's lock makes it one at a time across processes too. */
  #refreshOnce(): Promise<RefreshOutcome> {
    this.#refreshing ??= this.#refresh().finally(() => (this.#refreshing = null));
    return this.#refreshing;
  }

  /** A refresh while serving: a refusal ends the grant. */
  async #renew(): Promise<RefreshOutcome> {
    const outcome = await this.#refreshOnce();
    if (outcome.kind === 'ended') await this.#finish(outcome.why, null);
    return outcome;
  }

  /** Who the held token speaks for, checked exactly as on HTTP; a string is the refusal a tool call shows. */
  async identify(): Promise<ToolIdentity | string> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.#over) return 'Access was revoked; mcp-tools is stopping.';
      if (this.#refreshing) await this.#refreshing;
      const held = this.#held;
      if (!held) return this.#notYet;
      const check = await this.deps.verifier.check(held.token);
      if (check.ok) {
        this.#lastIdentity = check.identity;
        return check.identity;
      }
      if (check.reason === 'revoked') await this.#confirmRevocation(held.token);
      else if (check.reason === 'expired') await this.#renew();
      else return `The access token is not valid: ${check.description}`;
    }
    return this.#over ? 'Access was revoked; mcp-tools is stopping.' : 'The access token could not be renewed; try again shortly.';
  }

  /** Checks the held token as the projection learns of revocations, whether or not calls come. */
  watch(): void {
    this.#watcher = setInterval(() => {
      const held = this.#held;
      if (!held || this.#refreshing || this.#over) return;
      this.deps.verifier
        .check(held.token)
        .then((check) => (!check.ok && check.reason === 'revoked' ? this.#confirmRevocation(held.token) : undefined))
        .catch((err: unknown) => this.deps.logger.warn({ err: String(err) }, 'could not check the access token'));
    }, WATCH_INTERVAL_MS);
    this.#watcher.unref();
  }

  /** Stops refreshing and watching; a refresh under way is let finish, so that its rotated token is stored. */
  async stop(): Promise<void> {
    this.#halt();
    await this.#refreshing;
  }

  #halt(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#watcher) clearInterval(this.#watcher);
  }

  /**
   * The verifier says revoked: either the grant ended (the refresh is then refused) or only this token was
   * revoked (RFC 7009), and a refresh gives a good one. A fresh token that is refused as well ends it too.
   */
  async #confirmRevocation(token: string): Promise<void> {
    if (this.#held?.token !== token || this.#over || Date.now() < this.#retryAt) return;
    const outcome = await this.#renew();
    if (outcome.kind !== 'refreshed' || !this.#held) return;
    const again = await this.deps.verifier.check(this.#held.token);
    if (!again.ok && again.reason === 'revoked') await this.#finish(`the grant was revoked (${again.description})`, this.#refreshToken);
  }

  async #refresh(): Promise<RefreshOutcome> {
    if (this.#over) return { kind: 'ended', why: 'the grant has ended' };
    const { store, server, resource, logger } = this.deps;
    let presented: string | null = null;
    let outcome: RefreshOutcome;
    try {
      outcome = await store.locked(async () => {
        // Always the newest refresh token on disk: another process sharing the credential may have rotated it.
        const stored = store.read();
        if (!stored.client || !stored.grant) return { kind: 'ended', why: 'the stored credential was removed (revoked, seen by another mcp-tools process)' };
        presented = stored.grant.refreshToken;
        const tokens = await refreshAuthorization(server.issuer, {
          metadata: server.metadata,
          clientInformation: { client_id: stored.client.clientId },
          refreshToken: stored.grant.refreshToken,
          resource,
          fetchFn: timedFetch,
        });
        // Stored before the access token is used: a crash now must not lose the only live refresh token.
        const refreshToken = tokens.refresh_token ?? stored.grant.refreshToken;
        store.write({ ...stored, grant: { ...stored.grant, refreshToken, savedAt: new Date().toISOString() } });
        this.#refreshToken = refreshToken;
        this.#hold(tokens);
        return { kind: 'refreshed' };
      });
    } catch (err) {
      if (err instanceof OAuthError && (err.errorCode === 'invalid_grant' || err.errorCode === 'invalid_client')) {
        const said = err.message.replace(/\.$/, '');
        outcome = { kind: 'ended', why: `the grant was revoked or has expired (${err.errorCode}${said ? `: ${said}` : ''})` };
        if (presented) await this.#forget(presented, err.errorCode === 'invalid_client');
      } else {
        outcome = { kind: 'failed', why: describe(err) };
      }
    }
    if (outcome.kind === 'refreshed') {
      this.#retryMs = RETRY_FIRST_MS;
      this.#retryAt = 0;
      logger.debug({ expiresAt: new Date(this.#held!.expiresAt).toISOString() }, 'access token refreshed');
    } else if (outcome.kind === 'failed') {
      // The authorization server may be restarting: keep the current token while it lasts and try again.
      logger.warn({ err: outcome.why, retryInMs: this.#retryMs }, 'refresh failed; trying again');
      this.notConnectedBecause(`The access token could not be renewed yet (${outcome.why}); mcp-tools keeps trying.`);
      this.#retryAt = Date.now() + this.#retryMs;
      this.#schedule(this.#retryAt);
      this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
    }
    return outcome;
  }

  /** Ends the grant here: the reason goes to whoever awaits `ended`. */
  async end(why: string): Promise<void> {
    await this.#finish(why, null);
  }

  async #finish(why: string, deadRefreshToken: string | null): Promise<void> {
    if (this.#over) return;
    this.#over = true;
    this.#halt();
    if (deadRefreshToken) await this.#forget(deadRefreshToken, false);
    this.#end(why);
  }

  /** Removes a dead grant (and the client, when it is gone too) from the store, unless another process replaced it meanwhile. */
  async #forget(refreshToken: string, clientGone: boolean): Promise<void> {
    const { store } = this.deps;
    await store.locked(async () => {
      const stored = store.read();
      if (stored.grant?.refreshToken !== refreshToken) return;
      store.write({ ...stored, grant: null, client: clientGone ? null : stored.client });
    }).catch((err: unknown) => this.deps.logger.warn({ err: String(err) }, 'could not remove the dead credential'));
  }

  #hold(tokens: OAuthTokens): void {
    const now = Date.now();
    const lifetimeMs = (tokens.expires_in ?? 60) * 1000;
    this.#held = { token: tokens.access_token, refreshAt: now + lifetimeMs * REFRESH_AT_SHARE_OF_LIFETIME, expiresAt: now + lifetimeMs };
    this.#schedule(this.#held.refreshAt);
  }

  #schedule(at: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#renew(), Math.max(0, at - Date.now()));
    this.#timer.unref();
  }

  /** The user and client of the last good check, to name them when access ends. */
  get lastIdentity(): ToolIdentity | null {
    return this.#lastIdentity;
  }
}
