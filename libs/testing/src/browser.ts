import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, LaunchOptions } from 'playwright-core';

/** The Debian package's browser; CHROMIUM_PATH overrides it. Playwright's own browser downloads are never used. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a quiet, headless Chromium in a container: no sandbox (no user namespaces), no GPU, no network chatter. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const CHROMIUM_INSTALL_HINT = [
  `No Chromium at ${CHROMIUM_PATH}. The browser tests need the Debian package:`,
  '  sudo apt-get install -y chromium',
  '(or point CHROMIUM_PATH at a Chromium binary). Never `npx playwright install`: the tests drive the system browser.',
].join('\n');

/**
 * Waits for the Chromium binary (it may still be being installed; 5 minutes, or CHROMIUM_WAIT_MS) and
 * fails, loudly, with the install command when it does not appear: a browser test must never pass without a browser.
 */
export async function waitForChromium({ timeoutMs = Number(process.env.CHROMIUM_WAIT_MS ?? 300_000), pollMs = 2_000 }: { timeoutMs?: number; pollMs?: number } = {}): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(CHROMIUM_PATH)) {
    if (Date.now() >= deadline) throw new Error(CHROMIUM_INSTALL_HINT);
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
  }
  return CHROMIUM_PATH;
}

/** Launches the system Chromium, headless, through playwright-core (loaded only by the tests that use a browser). */
export async function launchBrowser(options: LaunchOptions & { waitTimeoutMs?: number } = {}): Promise<Browser> {
  const { waitTimeoutMs, ...launch } = options;
  const executablePath = await waitForChromium(waitTimeoutMs === undefined ? {} : { timeoutMs: waitTimeoutMs });
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, headless: true, timeout: 30_000, ...launch, args: [...CHROMIUM_ARGS, ...(launch.args ?? [])] });
}

export type BackgroundBrowser = {
  /** Resolves once the launch has ended, with a browser or with the reason there is none; never rejects. */
  settled(): Promise<void>;
  /** The browser, or the launch error thrown (e.g. "apt-get install -y chromium"): never a silent pass. */
  get(): Browser;
  /** Closes the browser, once launched (a launch still under way is waited for, so none is left behind). */
  close(): Promise<void>;
};

/**
 * Launches the browser while the caller starts what it tests. A missing browser fails each test that asks
 * for it with the install hint, where a failed `before` hook would only "cancel" them.
 */
export function launchBrowserInBackground(options: Parameters<typeof launchBrowser>[0] = {}): BackgroundBrowser {
  let browser: Browser | undefined;
  let launchError: unknown = new Error('the browser is still launching: await settled() first');
  const launching = launchBrowser(options).then(
    (launched) => {
      browser = launched;
    },
    (err: unknown) => {
      launchError = err;
    },
  );
  return {
    settled: () => launching,
    get() {
      if (!browser) throw launchError instanceof Error ? launchError : new Error(String(launchError));
      return browser;
    },
    async close() {
      await launching;
      await browser?.close();
    },
  };
}

export type ReceivedRedirect = { path: string; query: URLSearchParams; at: number };

export type RedirectReceiver = {
  /** The redirect URI to register: http://127.0.0.1:<port><path>. */
  redirectUri: string;
  port: number;
  /** Every request the client's redirect endpoint (its path only) received, in order. */
  received: ReceivedRedirect[];
  /** Resolves with the next request received (or one already received and not yet taken). */
  next(timeoutMs?: number): Promise<ReceivedRedirect>;
  close(): Promise<void>;
};

/**
 * A stand-in for an OAuth client's loopback redirect endpoint (RFC 8252 §7.3): a tiny HTTP server that
 * records the query of each request and answers a plain page, as a native app's callback listener does.
 */
export async function startRedirectReceiver({ path = '/callback' }: { path?: string } = {}): Promise<RedirectReceiver> {
  const received: ReceivedRedirect[] = [];
  let taken = 0;
  const waiters: Array<() => void> = [];
  const server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // Browsers ask for /favicon.ico and the like on their own: only the redirect endpoint counts.
    if (url.pathname !== path) {
      res.writeHead(404).end();
      return;
    }
    received.push({ path: url.pathname, query: url.searchParams, at: Date.now() });
    for (const wake of waiters.splice(0)) wake();
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end('<!doctype html><title>Done</title><p>You can close this window.</p>');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    redirectUri: `http://127.0.0.1:${port}${path}`,
    port,
    received,
    async next(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (taken >= received.length) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`the redirect endpoint received nothing within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return received[taken++]!;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
