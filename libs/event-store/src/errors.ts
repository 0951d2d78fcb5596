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

/** The stream exists but is not what this platform needs: waiting will not help, an operator must fix it. */
export class EventStoreMisconfigured extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventStoreMisconfigured';
  }
}
