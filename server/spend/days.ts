/**
 * @module
 * UTC days (`YYYY-MM-DD`, the roll-up and report granularity) and the date parameters of the spend routes.
 */
import { validation } from "../core/errors.ts";

const DAY_MS = 86_400_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
/** Longest range a report or summary answers (about ten years of days). */
export const MAX_RANGE_DAYS = 3660;

const pad2 = (n: number) => n < 10 ? `0${n}` : `${n}`;

/**
 * The UTC day of an epoch-ms instant, `YYYY-MM-DD` (years 0–9999). Plain arithmetic (Howard Hinnant's
 * civil-from-days) rather than a `Date` and `toISOString`: it runs once per call on the accounting path.
 */
export function dayOf(ms: number): string {
  const z = Math.floor(ms / DAY_MS) + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${String(y).padStart(4, "0")}-${pad2(m)}-${pad2(d)}`;
}

/** The day after `day`. */
export function nextDay(day: string): string {
  return dayOf(Date.parse(`${day}T00:00:00Z`) + DAY_MS);
}

/** Every day from `from` to `to`, both included. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = nextDay(d)) out.push(d);
  return out;
}

/**
 * A `start_date`/`end_date` parameter as epoch ms: a date (`2025-06-01`) means the start of that UTC day, or for an
 * end the last millisecond of it (so `end_date` includes its day); an ISO timestamp means that instant.
 */
export function parseDateParam(value: string, param: string, end: boolean): number {
  if (DATE_ONLY.test(value)) {
    const ms = Date.parse(`${value}T00:00:00Z`);
    if (Number.isFinite(ms) && dayOf(ms) === value) return end ? ms + DAY_MS - 1 : ms;
  } else if (value.includes("T")) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  throw validation(`Invalid request: ${param} must be a date (YYYY-MM-DD) or an ISO 8601 timestamp`, param);
}

/** Checks a range: start not after end, and not absurdly long for a per-day answer. */
export function checkRange(startMs: number, endMs: number): void {
  if (startMs > endMs) throw validation("Invalid request: start_date is after end_date", "start_date");
  if ((endMs - startMs) / DAY_MS > MAX_RANGE_DAYS) {
    throw validation(`Invalid request: the range may span at most ${MAX_RANGE_DAYS} days`, "end_date");
  }
}
