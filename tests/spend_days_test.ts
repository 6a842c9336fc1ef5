/**
 * UTC days for roll-ups and the date parameters of the spend routes.
 */
import assert from "node:assert/strict";
import { dayOf, daysBetween, nextDay, parseDateParam } from "../server/spend/days.ts";

Deno.test("dayOf agrees with Date#toISOString from 1969 to 2100, leap days included", () => {
  const step = 86_400_000 * 0.37 + 12_345; // lands on every time of day over the years
  for (let ms = Date.UTC(1969, 11, 25); ms < Date.UTC(2100, 0, 1); ms += step) {
    assert.equal(dayOf(ms), new Date(ms).toISOString().slice(0, 10), String(ms));
  }
  assert.equal(dayOf(Date.UTC(2024, 1, 29, 23, 59, 59, 999)), "2024-02-29");
  assert.equal(dayOf(Date.UTC(2100, 1, 28, 12)), "2100-02-28");
  assert.equal(nextDay("2024-02-28"), "2024-02-29");
  assert.equal(nextDay("2025-12-31"), "2026-01-01");
  assert.deepEqual(daysBetween("2025-02-27", "2025-03-01"), ["2025-02-27", "2025-02-28", "2025-03-01"]);
});

Deno.test("date parameters: a day (end dates include it) or an exact ISO timestamp; anything else is a 400", () => {
  assert.equal(parseDateParam("2025-06-01", "start_date", false), Date.UTC(2025, 5, 1));
  assert.equal(parseDateParam("2025-06-01", "end_date", true), Date.UTC(2025, 5, 2) - 1);
  assert.equal(parseDateParam("2025-06-01T12:30:00Z", "end_date", true), Date.UTC(2025, 5, 1, 12, 30));
  assert.equal(parseDateParam("2025-06-01T12:30:00+02:00", "start_date", false), Date.UTC(2025, 5, 1, 10, 30));
  for (const bad of ["2025-6-1", "2025-02-30", "yesterday", "1717243200000", "2025-06-01Tnope"]) {
    assert.throws(() => parseDateParam(bad, "start_date", false), (e) => (e as { status: number }).status === 400, bad);
  }
});
