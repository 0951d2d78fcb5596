type Waiter = { position: number; resolve: (reached: boolean) => void; timer: NodeJS.Timeout };

/** Pending waitFor calls, released in position order as the projection advances. */
export class PositionWaiters {
  #waiters: Waiter[] = [];

  add(position: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        position,
        resolve,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs),
      };
      // Keep sorted so that release() only looks at the front.
      let i = this.#waiters.length;
      while (i > 0 && this.#waiters[i - 1]!.position > position) i--;
      this.#waiters.splice(i, 0, waiter);
    });
  }

  get size(): number {
    return this.#waiters.length;
  }

  release(reached: number): void {
    let n = 0;
    while (n < this.#waiters.length && this.#waiters[n]!.position <= reached) n++;
    if (n === 0) return;
    for (const waiter of this.#waiters.splice(0, n)) {
      clearTimeout(waiter.timer);
      waiter.resolve(true);
    }
  }

  releaseAll(reached: boolean): void {
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve(reached);
    }
  }
}
