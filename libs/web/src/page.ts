import type { Context } from 'koa';
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
