/**
 * @module
 * A wall clock moved by hand, with timers: `advance(ms)` runs every timer that comes due, in order, at its own time.
 * Credential sources take it in place of `Date.now`/`setTimeout`, so expiry and refresh are tested without waiting.
 */
export interface ManualClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Moves time forward, running the timers that come due on the way. */
  advance(ms: number): void;
  /** Moves time to `at` (ms since the epoch), running the timers due by then. */
  advanceTo(at: number): void;
  /** When the earliest pending timer is due, if any. */
  nextDue(): number | undefined;
}

export function manualClock(start: number): ManualClock {
  let time = start;
  let seq = 0;
  const timers = new Map<number, { due: number; fn: () => void }>();
  const clock: ManualClock = {
    now: () => time,
    setTimeout(fn, ms) {
      timers.set(++seq, { due: time + Math.max(0, ms), fn });
      return seq;
    },
    clearTimeout: (handle) => void timers.delete(handle as number),
    advance: (ms) => clock.advanceTo(time + ms),
    advanceTo(at) {
      for (;;) {
        const due = [...timers].filter(([, t]) => t.due <= at).sort((a, b) => a[1].due - b[1].due || a[0] - b[0])[0];
        if (!due) break;
        timers.delete(due[0]);
        time = Math.max(time, due[1].due);
        due[1].fn();
      }
      time = Math.max(time, at);
    },
    nextDue: () => (timers.size ? Math.min(...[...timers.values()].map((t) => t.due)) : undefined),
  };
  return clock;
}
