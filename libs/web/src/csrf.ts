import Tokens from 'csrf';
import type { Context } from 'koa';
import { HttpError } from '@mcp-auth/http';
import { setCookie } from './cookies.ts';

const tokens = new Tokens();

export type CsrfGuard = {
  /** A token for a form on the page being rendered (sets the secret cookie if the browser has none). */
  tokenFor(ctx: Context): string;
  /** Refuses a form post whose token does not belong to the browser's secret, or that comes from another site. */
  verify(ctx: Context, token: string | undefined): void;
};

/**
 * CSRF protection for every form post: the browser holds a secret in an HttpOnly, SameSite=Strict cookie;
 * each form carries a token derived from it (the `csrf` library's salted hash, checked in constant time).
 * A post that a browser marks as cross-site, or with a foreign Origin, is refused before the token is looked at.
 */
export function csrfGuard({ cookieName, secure, origin }: { cookieName: string; secure: boolean; origin: string }): CsrfGuard {
  return {
    tokenFor(ctx) {
      let secret = ctx.state.csrfSecret as string | undefined;
      secret ??= ctx.cookies.get(cookieName) ?? undefined;
      if (!secret || secret.length < 18 || secret.length > 64) {
        secret = tokens.secretSync();
        setCookie(ctx, cookieName, secret, { secure, sameSite: 'strict' });
      }
      ctx.state.csrfSecret = secret;
      return tokens.create(secret);
    },
    verify(ctx, token) {
      const site = ctx.get('Sec-Fetch-Site');
      const requestOrigin = ctx.get('Origin');
      if (site === 'cross-site' || (requestOrigin && requestOrigin !== 'null' && requestOrigin !== origin)) {
        throw forbidden('This form was submitted from another site.');
      }
      const secret = ctx.cookies.get(cookieName);
      if (!secret || !token || !tokens.verify(secret, token)) {
        throw forbidden('This form has expired or was not sent by this site. Go back, reload the page and try again.');
      }
    },
  };
}

function forbidden(description: string): HttpError {
  return new HttpError(403, { error: 'invalid_request', error_description: description });
}
