/** `createIsoTime()` (server/core/iso_time.ts) gives exactly `new Date(ms).toISOString()`, cached second or not. */
import assert from "node:assert/strict";
import { createIsoTime } from "../server/core/iso_time.ts";

Deno.test("isoTime equals Date#toISOString across seconds, fractions, negatives and far dates", () => {
  const isoTime = createIsoTime();
  const base = Date.UTC(2026, 10, 26, 9, 59, 59, 0);
  const samples = [
    0,
    1,
    999,
    1000,
    -1,
    -999,
    -1000,
    -1001,
    0.5,
    1.9999,
    base,
    base + 1,
    base + 9,
    base + 10,
    base + 99,
    base + 100,
    base + 999,
    base + 1000,
    base + 1000.7,
    base - 1,
    Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    Date.UTC(10000, 0, 1),
    Date.UTC(-1, 0, 1, 0, 0, 0, 5),
    8.64e15,
  ];
  for (const ms of [...samples, ...samples.reverse()]) assert.equal(isoTime(ms), new Date(ms).toISOString(), `${ms}`);
  for (let ms = base - 2500; ms < base + 2500; ms += 7) assert.equal(isoTime(ms), new Date(ms).toISOString());
});

Deno.test("isoTime throws like Date#toISOString for times it cannot show", () => {
  const isoTime = createIsoTime();
  for (const bad of [Number.NaN, Infinity, 8.64e15 + 1]) {
    assert.throws(() => isoTime(bad), RangeError);
  }
});
