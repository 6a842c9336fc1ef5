/**
 * @module
 * Things a fake receives, in order, with a bounded wait for them: `wait(n)` resolves once `n` matching items have
 * arrived and rejects at its deadline with a description of what did arrive, so a fake that is never called fails the
 * test instead of hanging it. The deadline's timer is injectable (tests of the fakes fire it by hand).
 *
 * @example
 * ```ts
 * import { Arrivals } from "./arrivals.ts";
 * const got = new Arrivals<string>("fake thing", (items) => items.join(", "));
 * setTimeout(() => got.push("ping"), 0);
 * const [first] = await got.wait(1, { timeoutMs: 1000 });
 * ```
 */

/** Starts and clears a timer; the default is `setTimeout`. `ManualTimers` (`tests/manual_timers.ts`) fits. */
export interface DeadlineTimers {
  set(fn: () => void, ms: number): unknown;
  clear(id: unknown): void;
}

const realTimers: DeadlineTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (id) => clearTimeout(id as number),
};

export interface ArrivalWait<T> {
  /** Only items this accepts count. */
  where?: (item: T) => boolean;
  /** Deadline, ms (default: the collection's). */
  timeoutMs?: number;
}

export class Arrivals<T> {
  readonly items: T[] = [];
  readonly #waiters = new Set<() => void>();

  /**
   * @param what names the fake in the deadline's error message
   * @param describe lists what arrived, for that message
   */
  constructor(
    readonly what: string,
    readonly describe: (items: readonly T[]) => string,
    readonly timers: DeadlineTimers = realTimers,
    readonly defaultTimeoutMs = 10_000,
  ) {}

  /** Adds arrivals and wakes the waits they complete. */
  push(...items: T[]): void {
    this.items.push(...items);
    for (const w of [...this.#waiters]) w();
  }

  /** The first `count` items `where` accepts, once they have arrived; rejects after the deadline. */
  wait(count: number, opts: ArrivalWait<T> = {}): Promise<T[]> {
    const where = opts.where ?? (() => true);
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise<T[]>((resolve, reject) => {
      const check = () => {
        const found = this.items.filter(where);
        if (found.length < count) return;
        this.#waiters.delete(check);
        this.timers.clear(timer);
        resolve(found.slice(0, count));
      };
      const timer = this.timers.set(() => {
        this.#waiters.delete(check);
        const seen = this.describe(this.items) || "none";
        reject(
          new Error(`${this.what}: ${count} matching item(s) not received within ${timeoutMs} ms; received: ${seen}`),
        );
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }
}
