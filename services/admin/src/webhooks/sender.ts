import { Webhook } from 'standardwebhooks';
import { Agent, request } from 'undici';
import { RefusedTarget, checkTargetUrl, guardedLookup, type Resolver } from './targets.ts';

/** A body larger than this is not sent (events are small; this bounds what one endpoint can cost). */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
/** At most this much of a receiver's answer is read; the rest is discarded with the connection. */
export const MAX_RESPONSE_BYTES = 4 * 1024;
const MAX_ERROR_LENGTH = 300;

export type SenderOptions = {
  allowPrivateTargets: boolean;
  timeoutMs: number;
  /** Name resolution; tests inject one. */
  resolve?: Resolver;
};

export type Delivery = {
  url: string;
  /** The endpoint's signing secret (whsec_…). */
  secret: string;
  /** The webhook-id header: the same on every try, so receivers can deduplicate. */
  messageId: string;
  body: string;
  now?: Date;
};

export type SendResult = {
  outcome: 'delivered' | 'failed';
  status: number | null;
  /** Why it failed, for the operator; never contains the secret or the payload. */
  error: string | null;
  durationMs: number;
  /** A failure no retry can fix (the body is too large, the target is refused). */
  permanent: boolean;
};

/** The three Standard Webhooks headers, signed with the library over id, timestamp and body. */
export function signedHeaders(secret: string, messageId: string, body: string, now: Date): Record<string, string> {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(messageId, now, body),
  };
}

/**
 * Sends signed webhook requests. One POST per call: no redirects followed (a 3xx is a failure), a deadline
 * for the whole exchange, and connections only to addresses the target policy allows, checked as the socket
 * connects.
 */
export class WebhookSender {
  readonly #agent: Agent;
  readonly #options: SenderOptions;

  constructor(options: SenderOptions) {
    this.#options = options;
    this.#agent = new Agent({
      connect: { lookup: guardedLookup(options.allowPrivateTargets, options.resolve), timeout: options.timeoutMs },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      keepAliveTimeout: 4_000,
      connections: 8,
    });
  }

  async send(delivery: Delivery): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const target = checkTargetUrl(delivery.url, this.#options.allowPrivateTargets);
    if (!target.ok) return { outcome: 'failed', status: null, error: `refused target: ${target.description}`, durationMs: 0, permanent: true };
    if (Buffer.byteLength(delivery.body) > MAX_PAYLOAD_BYTES) {
      return { outcome: 'failed', status: null, error: `payload larger than ${MAX_PAYLOAD_BYTES} bytes`, durationMs: 0, permanent: true };
    }
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'mcp-auth-webhooks/1',
      ...signedHeaders(delivery.secret, delivery.messageId, delivery.body, delivery.now ?? new Date()),
    };
    try {
      const response = await request(target.url, {
        method: 'POST',
        headers,
        body: delivery.body,
        dispatcher: this.#agent,
        maxRedirections: 0,
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      await drain(response.body, MAX_RESPONSE_BYTES);
      const status = response.statusCode;
      if (status >= 200 && status < 300) return { outcome: 'delivered', status, error: null, durationMs: elapsed(), permanent: false };
      const error = status >= 300 && status < 400 ? `HTTP ${status}: redirects are not followed` : `HTTP ${status}`;
      return { outcome: 'failed', status, error, durationMs: elapsed(), permanent: false };
    } catch (err) {
      const refused = findCause(err, (e) => e instanceof RefusedTarget);
      if (refused) return { outcome: 'failed', status: null, error: `refused target: ${refused.message}`.slice(0, MAX_ERROR_LENGTH), durationMs: elapsed(), permanent: false };
      return { outcome: 'failed', status: null, error: describeFailure(err), durationMs: elapsed(), permanent: false };
    }
  }

  async close(): Promise<void> {
    await this.#agent.close().catch(() => this.#agent.destroy());
  }
}

/** Reads at most `limit` bytes of a response body, then drops the rest (and with it the connection). */
async function drain(body: AsyncIterable<Buffer> & { destroy(): void }, limit: number): Promise<void> {
  let read = 0;
  try {
    for await (const chunk of body) {
      read += chunk.length;
      if (read > limit) break;
    }
  } finally {
    body.destroy();
  }
}

function findCause(err: unknown, test: (e: Error) => boolean): Error | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (test(e)) return e;
  }
  return null;
}

function describeFailure(err: unknown): string {
  const timeout = findCause(err, (e) => e.name === 'TimeoutError' || e.name === 'AbortError' || /Timeout/.test((e as { code?: string }).code ?? ''));
  if (timeout) return 'timed out';
  const coded = findCause(err, (e) => typeof (e as { code?: unknown }).code === 'string');
  const code = coded ? (coded as unknown as { code: string }).code : null;
  const message = coded?.message ?? (err instanceof Error ? err.message : String(err));
  return (code ? `${code}: ${message}` : message).replace(/[\r\n]+/g, ' ').slice(0, MAX_ERROR_LENGTH);
}
