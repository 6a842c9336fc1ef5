/**
 * @module
 * The streams being relayed, counted from their response until they are settled, so that closing the gateway can
 * wait until every one has been billed before it closes the ledger. A counter and the waiters, nothing per stream.
 */

export class OpenStreams {
  #open = 0;
  #waiters: Array<() => void> = [];

  /** Streams not settled yet. */
  get size(): number {
    return this.#open;
  }

  /** Counts a stream as open until the `finish` returned has run (once; later calls only call `finish`). */
  track<T>(finish: () => T): () => T {
    this.#open++;
    let done = false;
    return () => {
      try {
        return finish();
      } finally {
        if (!done) {
          done = true;
          if (--this.#open === 0) { for (const wake of this.#waiters.splice(0)) wake(); }
        }
      }
    };
  }

  /** Resolves once no stream is open. */
  settled(): Promise<void> {
    if (this.#open === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
