import { createInbox, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

/** What JetStream answers to a stored message. */
export type PublishAck = { seq: number; duplicate: boolean };

/** JetStream refused the message (its answer carried an error): retrying the same message gets the same answer. */
export class PublishRefused extends Error {
  constructor(
    readonly errCode: number,
    description: string,
  ) {
    super(description);
    this.name = 'PublishRefused';
  }
}

/** NATS refused the publish itself: this identity may not write to the subject. Retrying cannot change that. */
export class PublishForbidden extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublishForbidden';
  }
}

/** No acknowledgement in time, or no stream listening: the message may or may not be stored; retry with the same id. */
export class PublishNotAcknowledged extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'PublishNotAcknowledged';
  }
}

type Pending = { subject: string; resolve: (ack: PublishAck) => void; reject: (err: Error) => void; deadline: number };

/** How often timed-out publishes are looked for: a timeout ends within this much of its deadline. */
const SWEEP_MS = 100;

/**
 * Publishes to JetStream and waits for the acknowledgement, with one inbox subscription for all answers.
 * The client's JetStream publish does the same through its general request path, with a timer, three
 * promises and an Error with a stack for every request; every write of every service goes through here
 * (bench/append-cost.ts compares the two).
 */
export class AcknowledgedPublisher {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #pending = new Map<string, Pending>();
  readonly #subscription: Subscription;
  readonly #decoder = new TextDecoder();
  #next = 0;
  #sweeper: NodeJS.Timeout | null = null;

  /** `inboxPrefix`: the identity's inbox prefix (the connection's own), the only subjects it may subscribe to. */
  constructor(nc: NatsConnection, inboxPrefix?: string) {
    this.#nc = nc;
    this.#prefix = createInbox(inboxPrefix);
    this.#subscription = nc.subscribe(`${this.#prefix}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const token = msg.subject.slice(this.#prefix.length + 1);
        const pending = this.#pending.get(token);
        if (!pending) return; // answered after its timeout: the retry has its own token
        this.#pending.delete(token);
        // A status message (503: no stream captures the subject) has headers and no body.
        if (msg.headers?.hasError) {
          pending.reject(new PublishNotAcknowledged(`NATS answered ${msg.headers.code} ${msg.headers.description}`));
          return;
        }
        settle(pending, this.#decoder.decode(msg.data));
      },
    });
  }

  publish(subject: string, payload: string, headers: MsgHdrs, timeoutMs: number): Promise<PublishAck> {
    const token = (this.#next++).toString(36);
    return new Promise<PublishAck>((resolve, reject) => {
      this.#pending.set(token, { subject, resolve, reject, deadline: Date.now() + timeoutMs });
      this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_MS).unref();
      try {
        this.#nc.publish(subject, payload, { reply: `${this.#prefix}.${token}`, headers });
      } catch (err) {
        this.#pending.delete(token);
        reject(new PublishNotAcknowledged(`publish failed: ${String(err)}`));
      }
    });
  }

  /** Fails at once what waits for an acknowledgement from a subject NATS refused this connection to publish to. */
  refuse(subject: string, reason: string): void {
    for (const [token, pending] of this.#pending) {
      if (pending.subject !== subject) continue;
      this.#pending.delete(token);
      pending.reject(new PublishForbidden(reason));
    }
  }

  /** Fails what is still unanswered; the subscription ends with the connection. */
  close(): void {
    if (!this.#subscription.isClosed()) this.#subscription.unsubscribe();
    this.#failAll('the connection is closed');
  }

  #sweep(): void {
    const now = Date.now();
    for (const [token, pending] of this.#pending) {
      if (pending.deadline > now) continue;
      this.#pending.delete(token);
      pending.reject(new PublishNotAcknowledged('no acknowledgement in time'));
    }
    if (this.#pending.size === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = null;
    }
  }

  #failAll(reason: string): void {
    for (const pending of this.#pending.values()) pending.reject(new PublishNotAcknowledged(reason));
    this.#pending.clear();
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = null;
  }
}

function settle(pending: Pending, body: string): void {
  let answer: { seq?: unknown; duplicate?: unknown; error?: { err_code?: unknown; description?: unknown } };
  try {
    answer = JSON.parse(body) as typeof answer;
  } catch {
    pending.reject(new PublishNotAcknowledged('JetStream answered something that is not JSON'));
    return;
  }
  if (answer.error) {
    pending.reject(new PublishRefused(Number(answer.error.err_code ?? 0), String(answer.error.description ?? 'refused')));
  } else if (typeof answer.seq === 'number' && Number.isSafeInteger(answer.seq) && answer.seq > 0) {
    pending.resolve({ seq: answer.seq, duplicate: answer.duplicate === true });
  } else {
    pending.reject(new PublishNotAcknowledged('JetStream answered without a sequence'));
  }
}
