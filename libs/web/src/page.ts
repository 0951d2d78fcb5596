import type { Context, Next } from 'koa';
import { html, type SafeHtml } from './html.ts';

export type PageOptions = {
  title: string;
  body: SafeHtml;
  status?: number;
  /** Extra targets a form on this page may lead to (the consent form redirects to the client). */
  formTargets?: string[];
  /** Where the service serves its stylesheet (its only one: the CSP forbids inline styles). */
  stylesheet?: string;
};

/**
 * Sends a server-rendered page with a strict policy: no scripts at all, styles only from our stylesheet,
 * never framed, forms only to us (and, for consent, to the client's redirect URI).
 */
export function sendPage(ctx: Context, { title, body, status = 200, formTargets = [], stylesheet = '/assets/style.css' }: PageOptions): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.set(
    'Content-Security-Policy',
    [
      "default-src 'none'",
      "style-src 'self'",
      "img-src 'self'",
      `form-action 'self'${formTargets.map((t) => ` ${t}`).join('')}`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
  );
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.body = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="stylesheet" href="${stylesheet}">
<link rel="icon" href="${SITE_ICON_PATH}" type="image/svg+xml">
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`.value;
}

/** A CSP source expression for a redirect URI: its origin, or its scheme for private-use schemes. */
export function formTargetFor(redirectUri: string): string {
  try {
    const url = new URL(redirectUri);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
    return url.protocol;
  } catch {
    return '';
  }
}

/** Where every service that serves pages serves their icon (the pages link it; img-src 'self' allows it). */
export const SITE_ICON_PATH = '/favicon.svg';

/** A key on the console's accent colour: small enough to inline, so no asset is read at run time. */
const SITE_ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#3657d6"/>' +
  '<circle cx="11" cy="16" r="5" fill="none" stroke="#fff" stroke-width="3"/><path d="M16 16h11m-4 0v5m4-5v4" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>';

/**
 * The pages' icon at /favicon.svg, and an empty answer at /favicon.ico, which browsers ask for whatever a page
 * links: neither is a 404 in the logs or in the browser's console.
 */
export async function siteIcon(ctx: Context, next: Next): Promise<void> {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
  if (ctx.path === SITE_ICON_PATH) {
    ctx.type = 'image/svg+xml';
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = SITE_ICON;
    return;
  }
  if (ctx.path === '/favicon.ico') {
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.status = 204;
    return;
  }
  return next();
}
