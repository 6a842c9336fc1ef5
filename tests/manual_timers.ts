/**
 * @module
 * Timers that fire only when a test says so (`Timers` of the front door), for timeouts without waiting. Their clock
 * (`now`) stands still until a timer fires: firing one moves it to that timer's due time (never back).
 */
import type { Timers } from "../server/http/front_door.ts";

export class ManualTimers implements Timers {
  #next = 1;
  #now = 0;
  readonly pending = new Map<number, { fn: () => void; ms: number; due: number }>();
  set(fn: () => void, ms: number): number {
    const id = this.#next++;
    const due = this.#now + ms;
    this.pending.set(id, {
      fn: () => {
        this.#now = Math.max(this.#now, due);
        fn();
      },
      ms,
      due,
    });
    return id;
  }
  now(): number {
    return this.#now;
  }
  /** Moves the clock on by `ms` without firing anything. */
  advance(ms: number): void {
    this.#now += ms;
  }
  clear(id: unknown): void {
    this.pending.delete(id as number);
  }
  /** Whether a timer of `ms` milliseconds is pending. */
  has(ms: number): boolean {
    return [...this.pending.values()].some((t) => t.ms === ms);
  }
  /** Resolves once a timer of `ms` is pending (the code under test arms it after some I/O). */
  async armed(ms: number): Promise<void> {
    while (!this.has(ms)) await new Promise((r) => setTimeout(r, 0));
  }
  /** Fires every pending timer due by now (see `advance`), earliest first; how many fired. */
  runDue(): number {
    const due = [...this.pending].filter(([, t]) => t.due <= this.#now).sort(([, a], [, b]) => a.due - b.due);
    for (const [id, t] of due) if (this.pending.delete(id)) t.fn();
    return due.length;
  }
  /** Fires every pending timer of `ms` milliseconds; how many fired. */
  fire(ms: number): number {
    const due = [...this.pending].filter(([, t]) => t.ms === ms);
    for (const [id, t] of due) {
      this.pending.delete(id);
      t.fn();
    }
    return due.length;
  }
}
