/**
 * `createDeadlines` (server/calls/deadlines.ts): attempt timeouts on one timer per duration. Runs on a hand-moved
 * clock: entries fire in order once due, cancelled ones never fire, an idle lane holds no timer, and a lane full of
 * cancelled entries behind a long-lived one is compacted.
 */
import assert from "node:assert/strict";
import { createDeadlines } from "../server/calls/deadlines.ts";
import type { WatchdogClock } from "../server/calls/watchdog.ts";

/** A clock whose timers fire only when the test moves time. */
function manualClock() {
  let time = 0;
  let nextId = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: WatchdogClock = {
    now: () => time,
    setTimeout: (fn, ms) => {
      timers.set(++nextId, { at: time + ms, fn });
      return nextId;
    },
    clearTimeout: (id) => void timers.delete(id as number),
  };
  return {
    clock,
    timers: () => timers.size,
    advance(ms: number) {
      const until = time + ms;
      while (true) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        time = due[1].at;
        due[1].fn();
      }
      time = until;
    },
  };
}

Deno.test("deadlines fire in order once due; cancelled ones never fire", () => {
  const m = manualClock();
  const d = createDeadlines(m.clock);
  const fired: string[] = [];
  d.after(100, () => fired.push("a"));
  m.advance(10);
  const b = d.after(100, () => fired.push("b"));
  m.advance(10);
  d.after(100, () => fired.push("c"));
  d.after(50, () => fired.push("short"));
  assert.equal(d.pending(), 4);
  b.cancel();
  b.cancel(); // idempotent
  assert.equal(d.pending(), 3);
  m.advance(49); // t = 69
  assert.deepEqual(fired, []);
  m.advance(1); // t = 70: "short" (20 + 50) is due; "a" (0 + 100) is not yet
  assert.deepEqual(fired, ["short"]);
  m.advance(29); // t = 99
  assert.deepEqual(fired, ["short"]);
  m.advance(1); // t = 100
  assert.deepEqual(fired, ["short", "a"]);
  m.advance(20); // t = 120: b (110) was cancelled, c fires
  assert.deepEqual(fired, ["short", "a", "c"]);
  assert.equal(d.pending(), 0);
  assert.equal(m.timers(), 0);
});

Deno.test("an idle lane holds no timer: cancelling the last entry clears it", () => {
  const m = manualClock();
  const d = createDeadlines(m.clock);
  const entries = Array.from({ length: 5 }, () => d.after(600_000, () => assert.fail("cancelled entries never fire")));
  assert.equal(m.timers(), 1, "one timer per duration");
  for (const e of entries) e.cancel();
  assert.equal(m.timers(), 0);
  assert.equal(d.pending(), 0);
  m.advance(700_000);
  // The lane still works afterwards.
  let fired = false;
  d.after(600_000, () => fired = true);
  m.advance(600_000);
  assert.ok(fired);
});

Deno.test("finished calls behind a long-lived one are compacted away, and the long-lived one still fires", () => {
  const m = manualClock();
  const d = createDeadlines(m.clock);
  let longFired = false;
  d.after(1_000, () => longFired = true);
  for (let i = 0; i < 10_000; i++) d.after(1_000, () => assert.fail("cancelled")).cancel();
  // Compaction keeps the lane's entries near the live count, not the 10 001 ever added.
  assert.equal(d.pending(), 1);
  assert.ok(d.stored() <= 2 * 1024 + 1, `${d.stored()} entries held`);
  let lateFired = false;
  d.after(1_000, () => lateFired = true);
  m.advance(1_000);
  assert.ok(longFired);
  assert.ok(lateFired);
  assert.equal(m.timers(), 0);
});

Deno.test("a deadline that fires may add another on the same lane", () => {
  const m = manualClock();
  const d = createDeadlines(m.clock);
  const fired: number[] = [];
  d.after(10, () => {
    fired.push(1);
    d.after(10, () => fired.push(2));
  });
  m.advance(10);
  m.advance(10);
  assert.deepEqual(fired, [1, 2]);
  assert.equal(m.timers(), 0);
});
