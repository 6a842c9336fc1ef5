/** The idle watchdog on a hand-moved clock: when it fires, when it re-arms, and that stop() leaves nothing behind. */
import assert from "node:assert/strict";
import { IdleWatchdog, type WatchdogClock } from "../server/calls/watchdog.ts";

function manualClock() {
  const timers = new Map<number, { due: number; fn: () => void }>();
  let next = 1;
  const clock = {
    time: 0,
    armed: 0,
    timers,
    now: () => clock.time,
    setTimeout(fn: () => void, ms: number): unknown {
      clock.armed++;
      timers.set(next, { due: clock.time + ms, fn });
      return next++;
    },
    clearTimeout(handle: unknown) {
      timers.delete(handle as number);
    },
    /** Moves time to the earliest deadline and runs that timer. */
    fire() {
      const [id, t] = [...timers].sort((a, b) => a[1].due - b[1].due)[0];
      timers.delete(id);
      clock.time = Math.max(clock.time, t.due);
      t.fn();
    },
  };
  return clock satisfies WatchdogClock;
}

Deno.test("watchdog: fires once when a single wait reaches the limit, then is stopped", () => {
  const clock = manualClock();
  let idle = 0;
  const w = new IdleWatchdog(100, () => idle++, clock);
  w.beginWait();
  clock.fire();
  assert.equal(idle, 1);
  assert.equal(clock.timers.size, 0);
  w.beginWait(); // stopped: no new timer
  assert.equal(clock.timers.size, 0);
});

Deno.test("watchdog: short waits never fire; a timer that finds no wait is not re-armed", () => {
  const clock = manualClock();
  let idle = 0;
  const w = new IdleWatchdog(100, () => idle++, clock);
  for (let i = 0; i < 50; i++) {
    w.beginWait();
    clock.time += 10;
    w.endWait();
  }
  assert.equal(clock.armed, 1, "one timer for many waits");
  clock.fire(); // nobody waiting at its deadline
  assert.equal(idle, 0);
  assert.equal(clock.timers.size, 0);
});

Deno.test("watchdog: a timer armed for an earlier wait re-arms for the rest of the current one", () => {
  const clock = manualClock();
  let idle = 0;
  const w = new IdleWatchdog(100, () => idle++, clock);
  w.beginWait(); // t=0, due 100
  clock.time = 60;
  w.endWait();
  w.beginWait(); // t=60
  clock.fire(); // t=100: 40 ms into this wait
  assert.equal(idle, 0);
  clock.fire(); // t=160
  assert.equal(clock.time, 160);
  assert.equal(idle, 1);
});

Deno.test("watchdog: a limit of 0 disables it; stop() clears the armed timer", () => {
  const clock = manualClock();
  const off = new IdleWatchdog(0, () => assert.fail("disabled"), clock);
  off.beginWait();
  assert.equal(clock.armed, 0);
  const w = new IdleWatchdog(100, () => assert.fail("stopped"), clock);
  w.beginWait();
  assert.equal(clock.timers.size, 1);
  w.stop();
  w.stop();
  assert.equal(clock.timers.size, 0);
});
