import type { Context } from 'koa';

/**
 * Cookie names and attributes. Over https the names carry the __Host- prefix (Secure, Path=/, no Domain),
 * so no other site, not even a sibling subdomain, can plant or read them.
 */
export function cookieNames(secure: boolean) {
  return {
    session: secure ? '__Host-mcp_session' : 'mcp_session',
    csrf: secure ? '__Host-mcp_csrf' : 'mcp_csrf',
  };
}
