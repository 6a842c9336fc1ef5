/**
 * @module
 * Upstream timeouts for many concurrent calls on one timer per distinct duration, instead of a
 * `setTimeout`/`clearTimeout` pair per call (costly on Deno 2.9, whose global timers are Node's `Timeout` objects:
 * docs/benchmarks.md).
 *
 * Calls with the same timeout (the usual case: a deployment's `timeout`) expire in the order they started, so each
 * duration keeps a FIFO lane and one timer armed for its oldest live entry. Cancelling only marks the entry; marked
 * entries are skipped when the timer comes round, and a lane that holds mostly marked entries is compacted, so a
 * long-lived call at the head cannot make memory grow with the calls that finished behind it.
 */
import { systemClock, type WatchdogClock } from "./watchdog.ts";

export interface Deadline {
  /** The timeout will not fire. Idempotent. */
  cancel(): void;
}

export interface Deadlines {
  /** Calls `fire` once `ms` have passed, unless cancelled first. */
  after(ms: number, fire: () => void): Deadline;
  /** Entries waiting (not cancelled, not fired), for tests. */
  pending(): number;
  /** Entries held in memory, cancelled ones not yet dropped included, for tests. */
  stored(): number;
}

interface Entry {
  at: number;
  /** Cleared when the entry fires or is cancelled. */
  fire: (() => void) | undefined;
}

interface Lane {
  entries: Entry[];
  /** Index of the oldest entry not yet passed by the timer. */
  head: number;
  /** Cancelled entries at or after `head`. */
  cancelled: number;
  armed: boolean;
  timer: unknown;
}

/** Compact a lane once it holds at least this many cancelled entries and they are most of it. */
const COMPACT_AT = 1024;

export function createDeadlines(clock: WatchdogClock = systemClock): Deadlines {
  const lanes = new Map<number, Lane>();

  function arm(lane: Lane) {
    // Skip cancelled entries at the head; the first live one decides when to wake up.
    while (lane.head < lane.entries.length && lane.entries[lane.head].fire === undefined) {
      lane.head++;
      lane.cancelled--;
    }
    if (lane.head >= lane.entries.length) {
      lane.entries = [];
      lane.head = 0;
      lane.cancelled = 0;
      return;
    }
    lane.armed = true;
    lane.timer = clock.setTimeout(() => run(lane), Math.max(0, lane.entries[lane.head].at - clock.now()));
  }

  function run(lane: Lane) {
    lane.armed = false;
    const t = clock.now();
    const due: Array<() => void> = [];
    while (lane.head < lane.entries.length) {
      const e = lane.entries[lane.head];
      if (e.fire === undefined) {
        lane.head++;
        lane.cancelled--;
        continue;
      }
      if (e.at > t) break;
      due.push(e.fire);
      e.fire = undefined;
      lane.head++;
    }
    if (lane.head > COMPACT_AT && lane.head * 2 > lane.entries.length) {
      lane.entries = lane.entries.slice(lane.head);
      lane.head = 0;
    }
    arm(lane);
    for (const fire of due) fire();
  }

  function compact(lane: Lane) {
    lane.entries = lane.entries.slice(lane.head).filter((e) => e.fire !== undefined);
    lane.head = 0;
    lane.cancelled = 0;
  }

  return {
    after(ms, fire) {
      let lane = lanes.get(ms);
      if (!lane) lanes.set(ms, lane = { entries: [], head: 0, cancelled: 0, armed: false, timer: undefined });
      const entry: Entry = { at: clock.now() + ms, fire };
      lane.entries.push(entry);
      if (!lane.armed) arm(lane);
      const l = lane;
      return {
        cancel() {
          if (entry.fire === undefined) return;
          entry.fire = undefined;
          l.cancelled++;
          const live = l.entries.length - l.head - l.cancelled;
          if (live === 0) {
            // Nothing left to time: stop the timer too, so an idle gateway holds none (and can exit).
            if (l.armed) clock.clearTimeout(l.timer);
            l.armed = false;
            l.entries = [];
            l.head = 0;
            l.cancelled = 0;
          } else if (l.cancelled >= COMPACT_AT && l.cancelled > live) compact(l);
        },
      };
    },

    pending() {
      let n = 0;
      for (const lane of lanes.values()) n += lane.entries.length - lane.head - lane.cancelled;
      return n;
    },

    stored() {
      let n = 0;
      for (const lane of lanes.values()) n += lane.entries.length - lane.head;
      return n;
    },
  };
}
