import { isLoopbackHost } from '@mcp-auth/oauth';

/**
 * DNS-rebinding protection (MCP transport spec): a browser request to /mcp must come from an allowed origin.
 * Requests without Origin (agents that are not browsers) pass.
 */
export function originPolicy({ ownOrigins, extraOrigins, allowLoopback }: { ownOrigins: string[]; extraOrigins: string[]; allowLoopback: boolean }) {
  const allowed = new Set([...ownOrigins, ...extraOrigins].map((o) => o.replace(/\/$/, '').toLowerCase()));
  return (origin: string | undefined): boolean => {
    if (origin === undefined || origin === '') return true;
    const normalised = origin.toLowerCase();
    if (allowed.has(normalised)) return true;
    if (!allowLoopback) return false;
    try {
      const url = new URL(origin);
      return (url.protocol === 'http:' || url.protocol === 'https:') && isLoopbackHost(url.hostname) && url.origin === origin;
    } catch {
      return false;
    }
  };
}
