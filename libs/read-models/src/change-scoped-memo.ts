/** Tells when a projection may have changed (the Projector does): answers read since then are still true. */
export type ChangeStamps = { changes(...projections: string[]): number };

/**
 * Answers a read model remembers per key while the projections they come from stay unchanged: forgotten as
 * soon as their change stamp moves, or when the memo is full.
 */
export class ChangeScopedMemo<K, V> {
  #entries = new Map<K, V>();
  #stamp = -1;

  constructor(
    private readonly stamps: ChangeStamps,
    private readonly projection: string,
    private readonly capacity: number,
  ) {}

  /** The entries still true now (emptied first if the projection changed since, or the memo is full). */
  current(): Map<K, V> {
    const stamp = this.stamps.changes(this.projection);
    if (stamp !== this.#stamp || this.#entries.size >= this.capacity) {
      this.#entries = new Map();
      this.#stamp = stamp;
    }
    return this.#entries;
  }

  /** The answer for `key`: the one remembered while still true, else `read` now and remembered. */
  answer(key: K, read: (key: K) => V): V {
    const entries = this.current();
    let value = entries.get(key);
    if (value === undefined) {
      value = read(key);
      entries.set(key, value);
    }
    return value;
  }
}
