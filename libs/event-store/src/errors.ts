/** The aggregate changed since the writer read it: another writer won. Routes map this to 409 or to a protocol error. */
export class ConcurrencyConflict extends Error {
  constructor(
    readonly subject: string,
    readonly expectedLastSubjectSequence: number,
  ) {
    super(`${subject} is no longer at sequence ${expectedLastSubjectSequence}`);
    this.name = 'ConcurrencyConflict';
  }
}

/** NATS did not acknowledge in time. Nothing is known to be written; the caller answers 503 with Retry-After. */
export class EventStoreUnavailable extends Error {
  readonly retryAfterSeconds = 2;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EventStoreUnavailable';
  }
}
