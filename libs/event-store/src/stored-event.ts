import type { JsMsg, StoredMsg } from '@nats-io/jetstream';

const MSG_ID_HEADER = 'Nats-Msg-Id';

/**
 * What tells one stored event from another that later takes its position: the event id (its message id) and
 * the time the stream stored it, in nanoseconds. The id alone is not enough: an append retried after a crash
 * that lost the stream's tail is stored again with the same id, possibly at the position it had before, while
 * the events around it are new. Stored again, it has a new time; restored from a copy of the store, or read
 * from another node of a cluster, the same event keeps its time.
 */
export type StoredEventIdentity = string;

/** The identity of an event as a consumer delivers it (the stored time, exact, is in the message's reply subject). */
export function identityOfDelivered(message: JsMsg): StoredEventIdentity {
  return `${message.timestampNanos}/${message.headers?.get(MSG_ID_HEADER) ?? ''}`;
}

/** The identity of an event read with a message get. */
export function identityOfStored(message: StoredMsg): StoredEventIdentity {
  return `${nanosFromTimestamp(message.timestamp)}/${message.header.get(MSG_ID_HEADER) ?? ''}`;
}

/** An RFC 3339 time with up to nine decimals (Go drops trailing zeros) as nanoseconds since the epoch. */
export function nanosFromTimestamp(timestamp: string): string {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(timestamp);
  if (!match) return timestamp;
  const seconds = BigInt(Date.parse(`${match[1]}${match[3]}`) / 1000);
  const fraction = BigInt((match[2] ?? '').padEnd(9, '0'));
  return String(seconds * 1_000_000_000n + fraction);
}
