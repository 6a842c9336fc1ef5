/**
 * @module
 * A one-shot gate for deterministic tests: code under test awaits `wait()`, the test decides
 * when to `release()`. Used instead of timers so ordering never depends on scheduling luck.
 */

/** A one-shot gate. Once released it stays open; `wait()` after release resolves at once. */
export class Latch {
  #released = false;
  #resolve!: () => void;
  readonly #promise: Promise<void>;

  constructor() {
    this.#promise = new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** Open the gate. Idempotent. */
  release(): void {
    this.#released = true;
    this.#resolve();
  }

  /** Resolves once `release()` has been called. */
  wait(): Promise<void> {
    return this.#promise;
  }

  /** Whether `release()` has been called. */
  get released(): boolean {
    return this.#released;
  }
}
