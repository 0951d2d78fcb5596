import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { RefusedTarget, checkTargetUrl, guardedLookup, type Resolver } from './targets.ts';

export type OutboundPolicy = {
  /** Loopback, private and link-local targets, and plain http (development and tests only). */
  allowPrivateTargets: boolean;
  /** The whole exchange (name resolution, connection, TLS, headers, body) ends after this long. */
  timeoutMs: number;
  /** A body longer than this is not read to its end and the fetch fails. */
  maxBytes: number;
  /** Name resolution; tests inject one. */
  resolve?: Resolver;
};

export type FetchFailure = 'invalid_url' | 'refused_target' | 'redirect' | 'http_status' | 'too_large' | 'timeout' | 'unreachable';

export type FetchOutcome =
  | { ok: true; status: 200; headers: IncomingHttpHeaders; body: Buffer }
  | { ok: false; reason: FetchFailure; description: string; status?: number };

const MAX_DESCRIPTION_LENGTH = 300;

/**
 * GETs a small document (a client metadata document, a JSON Web Key Set) from a URL someone else chose.
 * Only a 200 counts; redirects are not followed (the Client ID Metadata Document draft §5 forbids it, and
 * a redirect could lead anywhere); the connection goes only to addresses the target policy allows, checked
 * as the socket connects; the body is read up to `maxBytes` within one deadline. Every failure is a value
 * with a reason for the log and the audit trail, never an exception.
 */
export async function fetchDocument(raw: string, policy: OutboundPolicy, accept = 'application/json'): Promise<FetchOutcome> {
  const target = checkTargetUrl(raw, policy.allowPrivateTargets);
  if (!target.ok) return { ok: false, reason: target.reason === 'refused' ? 'refused_target' : 'invalid_url', description: target.description };
  const signal = AbortSignal.timeout(policy.timeoutMs);
  const send = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<FetchOutcome>((resolve) => {
    let settled = false;
    const settle = (outcome: FetchOutcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    let request: ClientRequest;
    try {
      request = send(target.url, {
        method: 'GET',
        headers: { accept, 'user-agent': 'mcp-auth/1' },
        // A fresh connection each time: a pooled socket could have been opened to an address checked earlier.
        agent: false,
        lookup: guardedLookup(policy.allowPrivateTargets, policy.resolve),
        signal,
      });
    } catch (err) {
      return settle({ ok: false, reason: 'invalid_url', description: describe(err) });
    }
    request.on('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      if (status !== 200) {
        response.destroy();
        const redirect = status >= 300 && status < 400;
        return settle({ ok: false, reason: redirect ? 'redirect' : 'http_status', status, description: redirect ? `HTTP ${status}: redirects are not followed` : `HTTP ${status}` });
      }
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > policy.maxBytes) {
        response.destroy();
        return settle({ ok: false, reason: 'too_large', description: `the document is larger than ${policy.maxBytes} bytes` });
      }
      const chunks: Buffer[] = [];
      let length = 0;
      response.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (length > policy.maxBytes) {
          response.destroy();
          return settle({ ok: false, reason: 'too_large', description: `the document is larger than ${policy.maxBytes} bytes` });
        }
        chunks.push(chunk);
      });
      response.on('end', () => settle({ ok: true, status: 200, headers: response.headers, body: Buffer.concat(chunks, length) }));
      response.on('error', (err) => settle(failure(err, signal)));
      response.on('close', () => {
        if (!response.complete) settle(failure(new Error('the connection closed before the document ended'), signal));
      });
    });
    request.on('error', (err) => settle(failure(err, signal)));
    request.end();
  });
}

function failure(err: unknown, signal: AbortSignal): FetchOutcome {
  if (signal.aborted) return { ok: false, reason: 'timeout', description: 'timed out' };
  const refused = findCause(err, (e) => e instanceof RefusedTarget);
  if (refused) return { ok: false, reason: 'refused_target', description: refused.message.slice(0, MAX_DESCRIPTION_LENGTH) };
  return { ok: false, reason: 'unreachable', description: describe(err) };
}

function findCause(err: unknown, test: (e: Error) => boolean): Error | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (test(e)) return e;
  }
  return null;
}

function describe(err: unknown): string {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : null;
  const message = err instanceof Error ? err.message : String(err);
  return (code && !message.includes(code) ? `${code}: ${message}` : message).replace(/[\r\n]+/g, ' ').slice(0, MAX_DESCRIPTION_LENGTH);
}
